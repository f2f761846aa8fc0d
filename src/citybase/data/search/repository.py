"""The search index's queries: FTS5 on SQLite, text search with a GIN index on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, column, delete, func, literal_column, select, table, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from citybase.data.search import tokens
from citybase.data.search.models import FTS_TABLE, VECTOR_SQL, SearchDoc

_fts = table(FTS_TABLE, column("rowid"))
# what a match returns: enough to count facets and order, not the documents themselves
_MATCH_COLUMNS = (
    SearchDoc.id, SearchDoc.unit_code, SearchDoc.region_code, SearchDoc.level,
    SearchDoc.share_type, SearchDoc.open_type, SearchDoc.format, SearchDoc.status,
    SearchDoc.themes, SearchDoc.bases, SearchDoc.updated_at, SearchDoc.name,
)  # fmt: skip
# column weights: a word in the name counts more than one in the items, more than the abstract
WEIGHTS = (10.0, 4.0, 1.0)


def by_code(session: Session, code: str) -> SearchDoc | None:
    return session.scalars(select(SearchDoc).where(SearchDoc.resource_code == code)).first()


def add(session: Session, doc: SearchDoc) -> None:
    session.add(doc)
    session.flush()


def remove(session: Session, code: str) -> None:
    session.execute(delete(SearchDoc).where(SearchDoc.resource_code == code))


def matches(
    session: Session, terms: list[list[str]], where: Sequence[ColumnElement[bool]]
) -> list[Row[Any]]:
    """Every document matching all terms and conditions, with a score (higher is better)."""
    if not terms:
        query = select(*_MATCH_COLUMNS, literal_column("0.0").label("score"))
    elif session.get_bind().dialect.name == "sqlite":
        # bm25() is lower for better matches
        bm25: ColumnElement[float] = literal_column(
            f"bm25({FTS_TABLE}, {', '.join(map(str, WEIGHTS))})"
        )
        query = (
            select(*_MATCH_COLUMNS, (-bm25).label("score"))
            .join_from(SearchDoc, _fts, _fts.c.rowid == SearchDoc.id)
            .where(text(f"{FTS_TABLE} MATCH :match").bindparams(match=tokens.fts5_query(terms)))
        )
    else:
        vector: ColumnElement[Any] = literal_column(f"({VECTOR_SQL})")
        tsquery = func.to_tsquery("simple", tokens.tsquery(terms))
        query = select(*_MATCH_COLUMNS, func.ts_rank(vector, tsquery).label("score")).where(
            vector.op("@@")(tsquery)
        )
    return list(session.execute(query.where(*where)))


def docs(session: Session, ids: Sequence[int]) -> dict[int, SearchDoc]:
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(SearchDoc).where(SearchDoc.id.in_(ids)))}


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SearchDoc)) or 0


def codes(session: Session) -> set[str]:
    return set(session.scalars(select(SearchDoc.resource_code)))
