from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType


class DataTable(IdMixin, Base):
    """The rows a resource carries: their columns (as loaded) and where they came from."""

    __tablename__ = "data_tables"

    resource_code: Mapped[str] = mapped_column(String(40), unique=True)
    columns: Mapped[list[Any]] = mapped_column(JSONType)  # [{"name", "type"}], in item order
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    load_number: Mapped[int] = mapped_column(Integer, default=1)
    # the free-text columns whose cells were scanned for personal data when stored, and the
    # recognizers' version then: a reader trusts the rows' ``found`` only for these, and only
    # while the version is current
    scanned: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    scan_version: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(200), default="")
    loaded_by: Mapped[str] = mapped_column(String(100))
    loaded_at: Mapped[datetime]


class DataRow(IdMixin, Base):
    """One row: column name → value (JSON: text, integer, boolean; decimals, dates and times
    as their exact text), checked against the column's type when it was loaded."""

    __tablename__ = "data_rows"
    __table_args__ = (Index("ix_data_rows_table_row", "table_id", "row_no", unique=True),)

    table_id: Mapped[int] = mapped_column(ForeignKey("data_tables.id", ondelete="CASCADE"))
    row_no: Mapped[int] = mapped_column(Integer)
    cells: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # personal data found in the free-text cells when the row was stored: column → [[kind,
    # start, end], …]; None when none was found (see DataTable.scanned)
    found: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
