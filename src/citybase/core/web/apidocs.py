"""The API documentation in the console's languages.

``/openapi.json`` stays the application's own document, in English: client generators and
conformance tools read it. The docs page reads the document of the visitor's language instead
(``/openapi.json?lang=zh``), made from the English one through the translation catalogue:

- a tag's name: message id ``api tag: <name>`` (the Chinese name replaces the tag's name on the
  tag and on every operation under it, so operations stay grouped);
- an operation's summary: ``api summary: <METHOD> <path>`` (FastAPI makes the English summary
  from the function's name; the Chinese one is written for the operation);
- every other text (the description of the API, of an operation, of a parameter, of a schema
  and of a schema's fields, of a response): ``api: <the English text>``, its lines joined by
  single spaces.

A text without a translation stays English. ``coverage`` counts what is translated.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from citybase.core.web.i18n import LANGUAGES, has_translation, translate

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def tag_id(tag: str) -> str:
    return f"api tag: {tag}"


def summary_id(operation: str) -> str:
    """``operation`` is ``"GET /api/v1/regions"``: its method and path."""
    return f"api summary: {operation}"


def text_id(text: str) -> str:
    """A text's message id, its whitespace made single spaces (a docstring rewrapped keeps its
    translation)."""
    return "api: " + " ".join(text.split())


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every operation with its name, ``"GET /api/v1/regions"``."""
    for path, item in schema.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def tags(schema: dict[str, Any]) -> list[str]:
    """Every tag an operation carries, in the order they first appear."""
    found: dict[str, None] = {}
    for tag in schema.get("tags", []):
        found[tag["name"]] = None
    for _name, operation in operations(schema):
        for tag in operation.get("tags", []):
            found[tag] = None
    return list(found)


def _fields(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every property of every component schema, nested ones included."""

    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            for prop in (node.get("properties") or {}).values():
                if isinstance(prop, dict):
                    yield prop
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    yield from walk(schema.get("components", {}).get("schemas", {}))


def _text(lang: str, text: str) -> str:
    key = text_id(text)
    return translate(lang, key) if has_translation(lang, key) else text


def _translate_texts(lang: str, node: Any) -> None:
    """Translate every ``description`` below ``node`` in place."""
    if isinstance(node, dict):
        description = node.get("description")
        if isinstance(description, str):
            node["description"] = _text(lang, description)
        for key, value in node.items():
            if key != "description":
                _translate_texts(lang, value)
    elif isinstance(node, list):
        for value in node:
            _translate_texts(lang, value)


def translated(schema: dict[str, Any], lang: str) -> dict[str, Any]:
    """A copy of the OpenAPI document ``schema`` with its texts in ``lang``."""
    doc = copy.deepcopy(schema)
    if lang == "en":
        return doc
    names = {}
    for tag in tags(doc):
        key = tag_id(tag)
        names[tag] = translate(lang, key) if has_translation(lang, key) else tag
    given = {t["name"]: t for t in doc.get("tags", [])}
    doc["tags"] = [{**given.get(tag, {}), "name": names[tag]} for tag in names]
    for name, operation in operations(doc):
        operation["tags"] = [names[t] for t in operation.get("tags", [])]
        key = summary_id(name)
        if has_translation(lang, key):
            operation["summary"] = translate(lang, key)
    # every description left: the API's, the operations', parameters', responses', schemas'
    _translate_texts(lang, doc)
    return doc


def document(app: FastAPI, lang: str) -> dict[str, Any]:
    """The OpenAPI document in ``lang``, made once per language and kept."""
    cache: dict[str, dict[str, Any]] | None = getattr(app.state, "openapi_by_language", None)
    if cache is None:
        cache = app.state.openapi_by_language = {}
    if lang not in cache:
        cache[lang] = translated(app.openapi(), lang)
    return cache[lang]


@dataclass(frozen=True)
class Coverage:
    """How much of the document has a translation in a language: (translated, total) each."""

    tags: tuple[int, int]
    summaries: tuple[int, int]
    descriptions: tuple[int, int]
    fields: tuple[int, int]
    # every description in the document (the above, and the API's, parameters', responses' and
    # schemas' own), counted once per place it appears
    texts: tuple[int, int]


def untranslated_tags(schema: dict[str, Any], lang: str) -> list[str]:
    return [t for t in tags(schema) if not has_translation(lang, tag_id(t))]


def untranslated_summaries(schema: dict[str, Any], lang: str) -> list[str]:
    return [name for name, _ in operations(schema) if not has_translation(lang, summary_id(name))]


def coverage(schema: dict[str, Any], lang: str) -> Coverage:
    all_tags = tags(schema)
    ops = [operation for _name, operation in operations(schema)]
    descriptions = [op["description"] for op in ops if op.get("description")]
    fields = [f["description"] for f in _fields(schema) if isinstance(f.get("description"), str)]

    def done(texts: list[str]) -> tuple[int, int]:
        return sum(has_translation(lang, text_id(t)) for t in texts), len(texts)

    return Coverage(
        tags=(len(all_tags) - len(untranslated_tags(schema, lang)), len(all_tags)),
        summaries=(len(ops) - len(untranslated_summaries(schema, lang)), len(ops)),
        descriptions=done(descriptions),
        fields=done(fields),
        texts=done(list(_descriptions(schema))),
    )


def _descriptions(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("description"), str):
            yield node["description"]
        for value in node.values():
            yield from _descriptions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _descriptions(value)


def docs_page(lang: str) -> HTMLResponse:
    """Swagger UI over the document of ``lang``, with a switch between the console's languages
    (the same ``/lang/{code}`` links the console's own switch follows)."""
    url = "/openapi.json" if lang == "en" else f"/openapi.{lang}.json"
    page = get_swagger_ui_html(
        openapi_url=url,
        title=f"citybase {translate(lang, 'API documentation')}",
        swagger_js_url="/static/swagger/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger/swagger-ui.css",
        swagger_favicon_url="/static/core/favicon.svg",
    )
    links = " | ".join(
        f'<span aria-current="true"><strong>{html.escape(name)}</strong></span>'
        if code == lang
        else f'<a href="/lang/{code}?next=/docs" hreflang="{code}" lang="{code}">'
        f"{html.escape(name)}</a>"
        for code, name in ((c, _SHORT.get(c, n)) for c, n in LANGUAGES.items())
    )
    switch = (
        f'<nav class="lang-switch" aria-label="{html.escape(translate(lang, "Language"))}" '
        'style="text-align:right;padding:8px 20px 0;font-family:sans-serif;font-size:14px">'
        f"{links}</nav>"
    )
    body = bytes(page.body).decode()
    body = body.replace("<html>", f'<html lang="{_HTML_LANG.get(lang, lang)}">', 1)
    body = body.replace('<div id="swagger-ui">', switch + '\n<div id="swagger-ui">', 1)
    return HTMLResponse(body)


# the switch names each language in itself, briefly
_SHORT = {"zh": "中文"}
_HTML_LANG = {"zh": "zh-CN", "en": "en"}
