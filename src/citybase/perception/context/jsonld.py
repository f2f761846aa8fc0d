"""JSON-LD for the NGSI-LD store: terms resolved to IRIs and back by a JSON-LD processor (pyld),
with the core context built in and every other context served from the platform's own cache —
nothing is fetched from the network.

The store keeps an entity in NGSI-LD's normalized form with its type and attribute names
expanded to IRIs; the values themselves are kept as given (expanding a GeoJSON value as JSON-LD
would mangle it). Names are expanded against the request's contexts and compacted against the
reader's, by the processor, so that two clients with different contexts see the same entity each
in its own terms."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from pyld import jsonld

from citybase.core.errors import CitybaseError

CORE_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"
NGSI = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"

# The core @context, written here after the standard (ETSI GS CIM 009, Annex B, as of v1.9.1; its
# term for data-integrity proofs is left out, as it would bring a remote context). It is
# "@protected": a user context may not give a core term another meaning.
CORE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "core-context.jsonld").read_text(encoding="utf-8")
)["@context"]
# keys of an attribute that belong to NGSI-LD itself, never expanded as names of sub-attributes
ATTRIBUTE_KEYS = {"type", "value", "object", "observedAt", "createdAt", "modifiedAt", "unitCode",
                  "datasetId", "instanceId", "languageMap", "json", "vocab", "valueList",
                  "objectList", "objectType", "lang", "deletedAt", "expiresAt", "valueType"}  # fmt: skip


class LdContextNotAvailable(CitybaseError):
    """A context that cannot be had: 504 since NGSI-LD 1.8.1 (6.3.2; 503 before)."""

    status_code = 504
    code = "LdContextNotAvailable"


class InvalidContext(CitybaseError):
    status_code = 400
    code = "BadRequestData"


class InvalidName(CitybaseError):
    status_code = 400
    code = "BadRequestData"


# what an attribute or type name may not hold (ETSI GS CIM 009, 4.6.2: no whitespace, no control
# characters, none of < > " ' = ; ( )), and a blank node, which expansion would drop
FORBIDDEN_IN_NAMES = re.compile(r"[\s\x00-\x1f\x7f<>\"'=;()]|^_:|^$")


def check_names(names: set[str], kind: str = "attribute") -> None:
    """Refuse a name that no IRI can be made of, naming it (before the JSON-LD processor would
    silently drop it)."""
    for name in names:
        if not name.startswith("@") and FORBIDDEN_IN_NAMES.search(name):
            raise InvalidName(f"{kind} name {name!r} is not allowed: no spaces, control "
                              "characters, < > \" ' = ; ( ), and not a blank node (_:)",
                              field=name)  # fmt: skip


_cache: dict[str, Any] = {}
_lock = threading.Lock()


def remember(url: str, document: Any) -> None:
    """Keep a context document for its URL (loaded from a file or the database)."""
    with _lock:
        _cache[url] = document
        _terms.clear()  # a context kept again under its URL may say something else now
        _valid.clear()


# the core context's other published addresses: the same built-in terms answer to them
CORE_ALIASES = {
    CORE_URL,
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
    *(f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{n}.jsonld" for n in range(3, 10)),
}


def cached(url: str) -> bool:
    return url in CORE_ALIASES or url in _cache


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    if url in CORE_ALIASES:
        document: Any = {"@context": CORE}
    else:
        with _lock:
            document = _cache.get(url)
    if document is None:
        raise jsonld.JsonLdError(
            f"context {url} is not known here", "jsonld.LoadDocumentError",
            {"url": url}, code="loading remote context failed",
        )  # fmt: skip
    return {"contextUrl": None, "documentUrl": url, "document": document}


def context_of(link: str | list[Any] | dict[str, Any] | None) -> list[Any]:
    """The active contexts: the core one, then a request's own (a URL, an inline object, or a
    list of them), as JSON-LD says later contexts override earlier ones."""
    if link is None:
        return [CORE_URL]
    items = link if isinstance(link, list) else [link]
    return [CORE_URL, *[i for i in items if not (isinstance(i, str) and i in CORE_ALIASES)]]


def _run(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args, {"documentLoader": _loader})
    except jsonld.JsonLdError as exc:
        text = str(exc)
        cause = getattr(exc, "cause", None)
        while cause is not None and "not known here" not in text:
            text += f" {cause}"
            cause = getattr(cause, "cause", None)
        if "not known here" in text or "loading remote context failed" in text:
            raise LdContextNotAvailable(
                "a @context is neither built in nor loaded here (load it with `citybase perception "
                "contexts load DIR`); nothing is fetched from the network", field="@context",
            ) from None  # fmt: skip
        raise InvalidContext(f"invalid @context: {exc}", field="@context") from None


# What the processor said of each name under each context, so that a name is worked out once:
# (the context as JSON, "e"/"c" for expand/compact, "n"/"t" for name/type, the name) → the answer.
_terms: dict[tuple[str, str, str, str], str] = {}
TERMS_KEPT = 50_000
_valid: set[str] = set()  # contexts the processor has read without complaint


def _key(context: list[Any]) -> str:
    return json.dumps(context, sort_keys=True, ensure_ascii=False)


def _known(key: str, way: str, names: set[str], types: set[str]) -> tuple[dict[str, str],
                                                                          dict[str, str]] | None:  # fmt: skip
    with _lock:
        found_names = {n: _terms.get((key, way, "n", n)) for n in names}
        found_types = {t: _terms.get((key, way, "t", t)) for t in types}
    if None in found_names.values() or None in found_types.values():
        return None
    return ({k: v for k, v in found_names.items() if v is not None},
            {k: v for k, v in found_types.items() if v is not None})  # fmt: skip


def _keep(key: str, way: str, names: dict[str, str], types: dict[str, str]) -> None:
    with _lock:
        if len(_terms) > TERMS_KEPT:
            _terms.clear()
        _terms.update({(key, way, "n", k): v for k, v in names.items()})
        _terms.update({(key, way, "t", k): v for k, v in types.items()})


def expand_names(context: list[Any], names: set[str], types: set[str]) -> tuple[dict[str, str],
                                                                                dict[str, str]]:  # fmt: skip
    """Attribute names and type names → their IRIs, by the processor, in one expansion (each
    name's answer is kept for its context, so the processor sees a name once)."""
    key = _key(context)
    known = _known(key, "e", names, types)
    if known is not None and (names or types or key in _valid):
        return known
    check_names(names)
    check_names(types, "type")
    doc: dict[str, Any] = {"@context": context, "@id": "urn:x", "@type": sorted(types)}
    doc |= {n: {"@value": n} for n in names if n not in ("@context", "@id", "@type")}
    [expanded] = _run(jsonld.expand, doc) or [{}]
    name_map = {}
    for iri, values in expanded.items():
        marker = _marker(values)
        if not iri.startswith("@") and marker is not None:
            name_map[marker] = iri
    type_list = expanded.get("@type", [])
    ordered = sorted(types)
    type_map = dict(zip(ordered, type_list, strict=False))
    _keep(key, "e", name_map, type_map)
    with _lock:
        _valid.add(key)
    return name_map, type_map


def _marker(found: Any) -> str | None:
    """The name a term was given as its own value, wherever the term's definition put it (in a
    list or a value object); None where a container made something else of it."""
    while not isinstance(found, str):
        if isinstance(found, list) and found:
            found = found[0]
        elif isinstance(found, dict) and ("@value" in found or "@list" in found):
            found = found.get("@value", found.get("@list"))
        else:
            return None
    return found


def compact_names(context: list[Any], iris: set[str], types: set[str]) -> tuple[dict[str, str],
                                                                              dict[str, str]]:  # fmt: skip
    """IRIs → the shortest terms the reader's context has for them (the IRI itself if none)."""
    key = _key(context)
    known = _known(key, "c", iris, types)
    if known is not None:
        return known
    doc: dict[str, Any] = {"@id": "urn:x", "@type": sorted(types)}
    doc |= {iri: [{"@value": iri}] for iri in iris}
    compacted = _run(jsonld.compact, doc, {"@context": context})
    name_map = {}
    for term, value in compacted.items():
        if term in ("@context", "id", "type", "@id", "@type"):
            continue
        marker = _marker(value)
        if marker is not None:  # else the IRI is shown whole: still the same name
            name_map[marker] = term
    found = compacted.get("type", compacted.get("@type", []))
    found = found if isinstance(found, list) else [found]
    type_map = dict(zip(sorted(types), found, strict=False))
    _keep(key, "c", name_map, type_map)
    return name_map, type_map
