from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, BigIntPK, IdMixin, JSONType, UTCDateTime

# PostgreSQL: one weighted vector per document, stored (a trigger fills it) and GIN-indexed;
# stored because phrase queries re-check every candidate row and rank it
POSTGRES_DDL = (
    "CREATE FUNCTION data_search_docs_vector() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.search_vector := setweight(to_tsvector('simple', NEW.name_tokens), 'A') || "
    "setweight(to_tsvector('simple', NEW.tag_tokens), 'B') || "
    "setweight(to_tsvector('simple', NEW.body_tokens), 'C'); RETURN NEW; END $$",
    "CREATE TRIGGER data_search_docs_vector BEFORE INSERT OR UPDATE ON data_search_docs "
    "FOR EACH ROW EXECUTE FUNCTION data_search_docs_vector()",
)
FTS_TABLE = "data_search_fts"
# SQLite: an FTS5 table over the documents' token columns, kept in step by triggers
SQLITE_DDL = (
    "CREATE VIRTUAL TABLE data_search_fts USING fts5(name_tokens, tag_tokens, body_tokens, "
    "content='data_search_docs', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER data_search_docs_ai AFTER INSERT ON data_search_docs BEGIN "
    "INSERT INTO data_search_fts(rowid, name_tokens, tag_tokens, body_tokens) "
    "VALUES (new.id, new.name_tokens, new.tag_tokens, new.body_tokens); END",
    "CREATE TRIGGER data_search_docs_ad AFTER DELETE ON data_search_docs BEGIN "
    "INSERT INTO data_search_fts(data_search_fts, rowid, name_tokens, tag_tokens, body_tokens) "
    "VALUES ('delete', old.id, old.name_tokens, old.tag_tokens, old.body_tokens); END",
    "CREATE TRIGGER data_search_docs_au AFTER UPDATE ON data_search_docs BEGIN "
    "INSERT INTO data_search_fts(data_search_fts, rowid, name_tokens, tag_tokens, body_tokens) "
    "VALUES ('delete', old.id, old.name_tokens, old.tag_tokens, old.body_tokens); "
    "INSERT INTO data_search_fts(rowid, name_tokens, tag_tokens, body_tokens) "
    "VALUES (new.id, new.name_tokens, new.tag_tokens, new.body_tokens); END",
)


class SearchDoc(IdMixin, Base):
    """A resource as the search index holds it: its token columns and its facet values."""

    __tablename__ = "data_search_docs"
    __table_args__ = (
        Index("ix_data_search_docs_vector", "search_vector", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    resource_code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(Text, default="")
    unit_code: Mapped[str] = mapped_column(String(40))
    unit_name: Mapped[str] = mapped_column(String(200), default="")
    region_code: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    level: Mapped[str] = mapped_column(String(20), default="")
    share_type: Mapped[str] = mapped_column(String(20))
    open_type: Mapped[str] = mapped_column(String(20))
    format: Mapped[str] = mapped_column(String(20))
    themes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    bases: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    name_tokens: Mapped[str] = mapped_column(Text, default="")
    tag_tokens: Mapped[str] = mapped_column(Text, default="")
    body_tokens: Mapped[str] = mapped_column(Text, default="")
    # PostgreSQL only (filled by its trigger); always empty on SQLite, where FTS5 indexes
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))


class SearchTag(Base):
    """One list value of a document (a theme, base library or keyword), for counting and
    filtering without reading JSON."""

    __tablename__ = "data_search_tags"
    # no index on (facet, value): SQLite would scan it to avoid sorting the facet counts, and
    # probe the match from it (one lookup per tag of the whole index); the primary key serves
    # both the counts (by document) and the filters (document, facet, value)

    doc_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("data_search_docs.id", ondelete="CASCADE"), primary_key=True
    )
    facet: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[str] = mapped_column(String(100), primary_key=True)


@event.listens_for(SearchDoc.__table__, "after_create")
def _create_fts(target: object, connection: Connection, **_: Any) -> None:
    """Tables made from the models (not the migrations) get the FTS5 table or trigger too."""
    for statement in SQLITE_DDL if connection.dialect.name == "sqlite" else POSTGRES_DDL:
        connection.exec_driver_sql(statement)
