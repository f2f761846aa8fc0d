"""The search index's queries: FTS5 on SQLite, text search with a GIN index on PostgreSQL.

Facet counts are grouped by the database over the match (one query, the match materialised
once), so a query matching thousands of resources costs no more Python than one matching ten.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    cast,
    column,
    delete,
    exists,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from citybase.data.search import tokens
from citybase.data.search.models import FTS_TABLE, SearchDoc

_fts = table(FTS_TABLE, column("rowid"))
# column weights: a word in the name counts more than one in the items, more than the abstract
WEIGHTS = (10.0, 4.0, 1.0)
SCALAR_FACETS = {
    "unit": SearchDoc.unit_code, "region": SearchDoc.region_code, "level": SearchDoc.level,
    "share_type": SearchDoc.share_type, "open_type": SearchDoc.open_type,
    "format": SearchDoc.format, "status": SearchDoc.status,
}  # fmt: skip
TAG_FACETS = {
    "theme": SearchDoc.themes, "base": SearchDoc.bases, "keyword": SearchDoc.keywords,
}  # fmt: skip


def by_code(session: Session, code: str) -> SearchDoc | None:
    return session.scalars(select(SearchDoc).where(SearchDoc.resource_code == code)).first()


def add(session: Session, doc: SearchDoc) -> None:
    session.add(doc)
    session.flush()


def remove(session: Session, code: str) -> None:
    session.execute(delete(SearchDoc).where(SearchDoc.resource_code == code))


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _elements(session: Session, tags: Any) -> Any:
    """A JSON list column as a table of its text elements."""
    if _sqlite(session):
        return func.json_each(tags).table_valued("value")
    return func.jsonb_array_elements_text(tags).table_valued("value")


def has_tag(session: Session, facet: str, value: str) -> ColumnElement[bool]:
    elements = _elements(session, TAG_FACETS[facet])
    return exists(select(elements.c.value).where(elements.c.value == value))


def _matching(
    session: Session, terms: list[list[str]], columns: Sequence[Any], *, scored: bool = True
) -> tuple[Select[Any], ColumnElement[float]]:
    """A select of the given columns over the documents matching every term, and the score
    (higher is better; 0 when there are no terms), selected too unless ``scored`` is off."""
    if not terms:
        score: ColumnElement[float] = literal_column("0.0")
        return select(*columns, *([score.label("score")] if scored else [])), score
    if _sqlite(session):
        bm25: ColumnElement[float] = literal_column(
            f"bm25({FTS_TABLE}, {', '.join(map(str, WEIGHTS))})"
        )
        score = -bm25  # bm25() is lower for better matches
        query = (
            select(*columns, *([score.label("score")] if scored else []))
            .join_from(SearchDoc, _fts, _fts.c.rowid == SearchDoc.id)
            .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=tokens.fts5_query(terms)))
        )
        return query, score
    vector = SearchDoc.search_vector
    tsquery = func.to_tsquery("simple", tokens.tsquery(terms))
    score = func.ts_rank(vector, tsquery)
    query = select(*columns, *([score.label("score")] if scored else []))
    return query.where(vector.op("@@")(tsquery)), score


def facet_counts(
    session: Session, terms: list[list[str]], where: Sequence[ColumnElement[bool]]
) -> tuple[int, list[tuple[str, str, int]]]:
    """The number of matches, and (facet, value, count) for every facet value among them."""
    query, _ = _matching(session, terms, [*SCALAR_FACETS.values(), *TAG_FACETS.values()])
    matched = query.where(*where).cte("matched").prefix_with("MATERIALIZED")
    parts: list[Select[str, str, int]] = [
        select(literal("total"), cast(literal(""), String), func.count()).select_from(matched)
    ]
    for facet, col in SCALAR_FACETS.items():
        values = matched.c[col.key]
        parts.append(
            select(literal(facet), cast(values, String), func.count())
            .select_from(matched)
            .where(values != "")
            .group_by(values)
        )
    for facet, tags in TAG_FACETS.items():
        elements = _elements(session, matched.c[tags.key])
        parts.append(
            select(literal(facet), cast(elements.c.value, String), func.count())
            .select_from(matched)
            .join(elements, true())
            .group_by(elements.c.value)
        )
    total = 0
    counts: list[tuple[str, str, int]] = []
    for facet, value, n in session.execute(union_all(*parts)):
        if facet == "total":
            total = n
        else:
            counts.append((facet, value, n))
    return total, counts


def page(
    session: Session,
    terms: list[list[str]],
    where: Sequence[ColumnElement[bool]],
    *,
    order: str,
    limit: int,
    offset: int,
) -> list[tuple[int, float]]:
    """(document id, score) of one page of the match, in the order asked for."""
    query, score = _matching(session, terms, [SearchDoc.id])
    if order == "relevance":
        ordering = [score.desc(), SearchDoc.name, SearchDoc.id]
    elif order == "name":
        ordering = [SearchDoc.name, SearchDoc.id]
    else:
        ordering = [SearchDoc.updated_at.desc(), SearchDoc.id]
    rows = session.execute(query.where(*where).order_by(*ordering).limit(limit).offset(offset))
    return [(doc_id, float(s)) for doc_id, s in rows]


def docs(session: Session, ids: Sequence[int]) -> dict[int, SearchDoc]:
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(SearchDoc).where(SearchDoc.id.in_(ids)))}


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SearchDoc)) or 0


def codes(session: Session) -> set[str]:
    return set(session.scalars(select(SearchDoc.resource_code)))
