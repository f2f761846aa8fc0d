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
    union_all,
)
from sqlalchemy.orm import Session

from citybase.data.search import tokens
from citybase.data.search.models import FTS_TABLE, SearchDoc, SearchTag

_fts = table(FTS_TABLE, column("rowid"))
# column weights: a word in the name counts more than one in the items, more than the abstract
WEIGHTS = (10.0, 4.0, 1.0)
# list facets that are counted; keywords are many and varied, so they filter but are not counted
COUNTED_TAGS = ("theme", "base")
SCALAR_FACETS = {
    "unit": SearchDoc.unit_code, "region": SearchDoc.region_code, "level": SearchDoc.level,
    "share_type": SearchDoc.share_type, "open_type": SearchDoc.open_type,
    "format": SearchDoc.format, "status": SearchDoc.status,
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


def has_tag(facet: str, value: str) -> ColumnElement[bool]:
    return exists(
        select(SearchTag.doc_id).where(
            SearchTag.doc_id == SearchDoc.id, SearchTag.facet == facet, SearchTag.value == value
        )
    )


def replace_tags(session: Session, doc_id: int, tags: Sequence[tuple[str, str]]) -> None:
    session.execute(delete(SearchTag).where(SearchTag.doc_id == doc_id))
    for facet, value in dict.fromkeys(tags):
        session.add(SearchTag(doc_id=doc_id, facet=facet, value=value))
    session.flush()


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
    query, _ = _matching(session, terms, [SearchDoc.id, *SCALAR_FACETS.values()], scored=False)
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
    parts.append(
        select(SearchTag.facet, SearchTag.value, func.count())
        .select_from(matched)
        .join(SearchTag, SearchTag.doc_id == matched.c.id)
        .where(SearchTag.facet.in_(COUNTED_TAGS))
        .group_by(SearchTag.facet, SearchTag.value)
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
