"""The API documentation in Chinese: every tag and operation summary translated, the English
document unchanged, and the docs page following the console's language with a switch."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from citybase.core.web import apidocs
from citybase.core.web.i18n import LANG_COOKIE


def _shape(doc: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(name, op.get("operationId")) for name, op in apidocs.operations(doc)]


def test_every_tag_and_operation_summary_has_chinese(app: FastAPI) -> None:
    schema = app.openapi()
    # a new endpoint brings its Chinese summary (citybase/api_docs.py), a new tag its name
    assert apidocs.untranslated_tags(schema, "zh") == []
    assert apidocs.untranslated_summaries(schema, "zh") == []
    zh = apidocs.translated(schema, "zh")
    for name, operation in apidocs.operations(zh):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in operation["summary"]), name


def test_the_english_document_is_unchanged_in_shape(client: TestClient) -> None:
    english = client.get("/openapi.json").json()
    chinese = client.get("/openapi.zh.json").json()
    assert client.get("/openapi.en.json").json() == english
    # the same paths, methods and operation ids: clients generated from either agree
    assert list(chinese["paths"]) == list(english["paths"])
    assert _shape(chinese) == _shape(english)
    assert chinese["components"]["schemas"].keys() == english["components"]["schemas"].keys()
    # /openapi.json stays the application's own: English summaries and tags
    create = english["paths"]["/api/v1/catalog/resources"]["post"]
    assert create["summary"] == "Create Resource"
    assert create["tags"] == ["data catalog"]
    assert create["description"] == "Register a resource as a draft of one's own unit."
    zh_create = chinese["paths"]["/api/v1/catalog/resources"]["post"]
    assert zh_create["summary"] == "编目新数据资源"
    assert zh_create["tags"] == ["数据资源目录"]
    assert zh_create["description"] == "将一项数据资源编目为本单位的草稿。"


def test_chinese_tags_keep_operations_grouped(client: TestClient) -> None:
    english = client.get("/openapi.json").json()
    chinese = client.get("/openapi.zh.json").json()
    pairs = {
        (en_op["tags"][0], zh_op["tags"][0])
        for (_, en_op), (_, zh_op) in zip(
            apidocs.operations(english), apidocs.operations(chinese), strict=True
        )
    }
    # one Chinese name per English tag and no two tags merged under one name
    assert len({en for en, _ in pairs}) == len(pairs) == len({zh for _, zh in pairs})
    assert {zh for _, zh in pairs} == {t["name"] for t in chinese["tags"]}


def test_a_text_without_translation_stays_english() -> None:
    schema = {
        "info": {"title": "t", "description": "No Chinese for this one."},
        "paths": {"/x": {"get": {"summary": "X", "tags": ["nowhere"], "operationId": "x"}}},
    }
    zh = apidocs.translated(schema, "zh")
    assert zh["info"]["description"] == "No Chinese for this one."
    assert zh["paths"]["/x"]["get"]["summary"] == "X"
    assert zh["tags"] == [{"name": "nowhere"}]
    assert apidocs.untranslated_summaries(schema, "zh") == ["GET /x"]
    assert schema["paths"]["/x"]["get"]["tags"] == ["nowhere"]  # the original is left alone


def test_the_translated_document_is_made_once_per_language(app: FastAPI) -> None:
    assert apidocs.document(app, "zh") is apidocs.document(app, "zh")
    assert apidocs.document(app, "en") is not apidocs.document(app, "zh")


def test_an_unknown_language_is_a_clear_404(client: TestClient) -> None:
    response = client.get("/openapi.fr.json")
    assert response.status_code == 404
    assert "zh, en" in response.json()["error"]["message"]


def test_the_docs_page_follows_the_console_language_with_a_switch(client: TestClient) -> None:
    page = client.get("/docs").text  # Chinese by default
    assert "url: '/openapi.zh.json'" in page
    assert '<html lang="zh-CN">' in page
    assert '<a href="/lang/en?next=/docs"' in page
    assert "<strong>中文</strong>" in page
    switched = client.get("/lang/en?next=/docs", follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/docs"
    client.cookies.set(LANG_COOKIE, switched.cookies[LANG_COOKIE])
    page = client.get("/docs").text
    assert "url: '/openapi.json'" in page
    assert '<a href="/lang/zh?next=/docs"' in page
    assert "<strong>English</strong>" in page


def test_coverage_is_counted(app: FastAPI) -> None:
    found = apidocs.coverage(app.openapi(), "zh")
    assert found.tags[0] == found.tags[1] > 0
    assert found.summaries[0] == found.summaries[1] > 0
    assert 0 < found.descriptions[0] <= found.descriptions[1]
    assert 0 <= found.fields[0] <= found.fields[1]
    assert found.fields[1] <= found.texts[1]
