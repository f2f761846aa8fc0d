"""Chinese full-text search over the catalog, ranked, with facets.

Each resource is a document in ``data_search_docs``: its name, data items and keywords, and
abstract as bigram tokens (see ``tokens``), and the values it is faceted by. The documents follow
the catalog: a consumer re-indexes a resource when the catalog or its grading says it changed,
so search lags a commit by the worker's next turn; ``reindex`` rebuilds everything.

A query matches documents holding every term; they are ranked by BM25 (SQLite FTS5) or
``ts_rank`` (PostgreSQL), weighting the name above the items above the abstract. Facet counts
are taken over the whole match, after the chosen facet values have narrowed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.errors import NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.progress import Report, silent
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import OpenType, ResourceChanged, ResourceRead, Status
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import GradingChanged
from citybase.data.search import repository, tokens
from citybase.data.search.models import SearchDoc
from citybase.data.search.schemas import (
    FACETS,
    FacetValue,
    SearchHit,
    SearchQuery,
    SearchResult,
    Sort,
)

OPEN_TYPES = (OpenType.unconditional.value, OpenType.conditional.value)


def document_values(resource: ResourceRead, level: str) -> dict[str, Any]:
    """What the index holds for a resource."""
    items = [f"{i.name} {i.meaning} {i.element}" for i in resource.items]
    return {
        "resource_code": resource.code, "name": resource.name, "abstract": resource.abstract,
        "unit_code": resource.provider_unit_code, "unit_name": resource.provider_unit_name,
        "region_code": resource.region_code, "status": resource.status.value, "level": level,
        "share_type": resource.share_type.value, "open_type": resource.open_type.value,
        "format": resource.format.value, "themes": list(resource.theme_tags),
        "bases": [b.value for b in resource.base_tags], "keywords": list(resource.keywords),
        "version": resource.version,
        "updated_at": resource.updated_at,
        "name_tokens": tokens.index_text(resource.name, resource.code),
        "tag_tokens": tokens.index_text(
            *resource.keywords, *resource.theme_tags, *items, resource.provider_unit_name
        ),
        "body_tokens": tokens.index_text(resource.abstract),
    }  # fmt: skip


def index_resource(session: Session, code: str) -> None:
    """Bring one resource's document up to date (or drop it if the resource is gone)."""
    try:
        resource = catalog.get_resource(session, code)
    except NotFound:
        repository.remove(session, code)
        return
    values = document_values(resource, grading.level_of(session, code))
    doc = repository.by_code(session, code)
    if doc is None:
        doc = SearchDoc(**values)
        repository.add(session, doc)
    else:
        for key, value in values.items():
            if getattr(doc, key) != value:
                setattr(doc, key, value)
        session.flush()
    repository.replace_tags(session, doc.id, tags_of(values))


def tags_of(values: dict[str, Any]) -> list[tuple[str, str]]:
    """A document's list values as (facet, value) rows."""
    pairs = (
        (facet, str(value))
        for facet, key in (("theme", "themes"), ("base", "bases"), ("keyword", "keywords"))
        for value in values[key]
    )
    return list(dict.fromkeys(pairs))


def reindex(session: Session, codes: Iterable[str], progress: Report = silent) -> int:
    """Re-index the given resources and drop documents of resources that no longer exist;
    ``progress`` is told each resource as it is done."""
    wanted = set(codes)
    every = sorted(wanted | (repository.codes(session) - wanted))
    for n, code in enumerate(every):
        index_resource(session, code)
        progress(n + 1, len(every), code)
    return repository.count(session)


@bus.consumer("data.search.index", ResourceChanged.topic, GradingChanged.topic)
def on_change(session: Session, envelope: EventEnvelope) -> None:
    index_resource(session, str(envelope.payload["code"]))


# --- queries -----------------------------------------------------------------------------------


def _visible_to(principal: Principal) -> list[ColumnElement[bool]]:
    who = catalog.audience(principal)
    if who.everything:
        return []
    clauses: list[ColumnElement[bool]] = [SearchDoc.status.in_(catalog.PUBLIC_STATES)]
    if who.unit_code:
        clauses.append(SearchDoc.unit_code == who.unit_code)
    if who.reviewer:
        clauses.append(SearchDoc.status != Status.draft.value)
    return [or_(*clauses)]


OPEN_TO_PUBLIC: list[ColumnElement[bool]] = [
    SearchDoc.status == Status.published.value,
    SearchDoc.open_type.in_(OPEN_TYPES),
]


def search(session: Session, principal: Principal, query: SearchQuery) -> SearchResult:
    """Search the resources the principal may see."""
    return _search(session, query, _visible_to(principal))


def search_open(session: Session, query: SearchQuery) -> SearchResult:
    """Search the open catalog: published resources that are open, with or without conditions."""
    return _search(session, query, OPEN_TO_PUBLIC)


_COLUMNS = {
    "unit": SearchDoc.unit_code, "level": SearchDoc.level, "share_type": SearchDoc.share_type,
    "open_type": SearchDoc.open_type, "format": SearchDoc.format, "status": SearchDoc.status,
}  # fmt: skip


def _search(
    session: Session, query: SearchQuery, scope: Sequence[ColumnElement[bool]]
) -> SearchResult:
    where = list(scope)
    for facet, column in _COLUMNS.items():
        value = getattr(query, facet)
        if value:
            where.append(column == value)
    if query.region:
        where.append(
            SearchDoc.region_code.in_(sorted(orgs.descendant_codes(session, query.region)))
        )
    for facet in ("theme", "base", "keyword"):
        value = getattr(query, facet)
        if value:
            where.append(repository.has_tag(facet, value))
    terms = tokens.query_terms(query.q)
    if query.q.strip() and not terms:  # punctuation only: nothing can match
        return SearchResult(total=0, hits=[], facets={f: [] for f in FACETS})
    total, counts = repository.facet_counts(session, terms, where)
    order = query.sort.value if terms or query.sort is not Sort.relevance else Sort.updated.value
    ranked = repository.page(
        session, terms, where, order=order, limit=query.limit, offset=query.offset
    )
    found = repository.docs(session, [doc_id for doc_id, _ in ranked])
    return SearchResult(
        total=total,
        hits=[_hit(found[doc_id], score) for doc_id, score in ranked],
        facets=_facets(session, counts),
    )


def _facets(session: Session, counts: list[tuple[str, str, int]]) -> dict[str, list[FacetValue]]:
    by_facet: dict[str, list[tuple[str, int]]] = {f: [] for f in FACETS}
    for facet, value, n in counts:
        by_facet[facet].append((value, n))
    labels = {
        "unit": orgs.unit_names(session, (v for v, _ in by_facet["unit"])),
        "region": orgs.region_names(session, (v for v, _ in by_facet["region"])),
    }
    return {
        facet: [
            FacetValue(value=value, count=n, label=labels.get(facet, {}).get(value, ""))
            for value, n in sorted(values, key=lambda vn: (-vn[1], vn[0]))
        ]
        for facet, values in by_facet.items()
    }


def _hit(doc: SearchDoc, score: float) -> SearchHit:
    return SearchHit(
        code=doc.resource_code, name=doc.name, abstract=doc.abstract, unit_code=doc.unit_code,
        unit_name=doc.unit_name, region_code=doc.region_code, status=doc.status, level=doc.level,
        share_type=doc.share_type, open_type=doc.open_type, format=doc.format,
        themes=list(doc.themes), bases=list(doc.bases), version=doc.version,
        updated_at=doc.updated_at, score=score,
    )  # fmt: skip
