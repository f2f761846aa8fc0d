"""Every query on the datastore's tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Numeric, Text, cast, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from citybase.core.errors import NotFound
from citybase.data.datastore.models import DataRow, DataTable


def table(session: Session, code: str) -> DataTable | None:
    return session.scalars(select(DataTable).where(DataTable.resource_code == code)).first()


def tables(session: Session, codes: Sequence[str]) -> list[DataTable]:
    if not codes:
        return []
    return list(session.scalars(select(DataTable).where(DataTable.resource_code.in_(codes))))


def all_tables(session: Session) -> list[DataTable]:
    return list(session.scalars(select(DataTable).order_by(DataTable.resource_code)))


def table_id(session: Session, code: str) -> int:
    found = session.scalar(select(DataTable.id).where(DataTable.resource_code == code))
    if found is None:
        raise NotFound(f"{code} carries no rows", field="code")
    return found


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def replace_rows(
    session: Session,
    table_id: int,
    rows: Sequence[dict[str, Any]],
    found: Sequence[dict[str, Any] | None],
) -> None:
    session.execute(delete(DataRow).where(DataRow.table_id == table_id))
    for start in range(0, len(rows), 5_000):
        session.execute(
            insert(DataRow),
            [
                {"table_id": table_id, "row_no": start + n + 1, "cells": cells,
                 "found": found[start + n]}
                for n, cells in enumerate(rows[start : start + 5_000])
            ],
        )  # fmt: skip
    session.flush()


def set_found(session: Session, table_id: int, found: dict[int, dict[str, Any] | None]) -> None:
    """Each row's findings anew (``found``: row number → findings)."""
    for row_no, spans in found.items():
        session.execute(
            update(DataRow)
            .where(DataRow.table_id == table_id, DataRow.row_no == row_no)
            .values(found=spans)
        )


def delete_table(session: Session, data_table: DataTable) -> None:
    session.execute(delete(DataRow).where(DataRow.table_id == data_table.id))
    session.delete(data_table)
    session.flush()


def _cell(name: str, kind: str) -> ColumnElement[Any]:
    cell = DataRow.cells[name]
    typed: ColumnElement[Any]
    if kind == "integer":
        typed = cell.as_integer()
    elif kind == "boolean":
        typed = cell.as_boolean()
    else:
        typed = cell.as_string()
    return typed


def find_rows(
    session: Session,
    table_id: int,
    *,
    filters: dict[str, tuple[str, Any]],
    q: str,
    text_columns: Sequence[str],
    sort: tuple[str, str] | None,
    descending: bool,
    limit: int,
    offset: int,
    row_count: int | None = None,
    with_found: bool = False,
) -> tuple[int, list[dict[str, Any]], list[dict[str, Any] | None]]:
    """The matching rows' count and one page of them. ``row_count``, the table's own, stands
    for the count when nothing narrows the rows (a table's rows change only by a whole load)."""
    where: list[ColumnElement[bool]] = [DataRow.table_id == table_id]
    for name, (kind, value) in filters.items():
        where.append(_cell(name, kind).is_(None) if value is None else _cell(name, kind) == value)
    if q.strip():
        if not text_columns:
            return 0, [], []
        where.append(
            or_(
                *(
                    DataRow.cells[c].as_string().contains(q.strip(), autoescape=True)
                    for c in text_columns
                )
            )
        )
    if row_count is not None and len(where) == 1:
        total = row_count
    else:
        total = session.scalar(select(func.count()).select_from(DataRow).where(*where)) or 0
    ordering: list[Any] = []
    if sort is not None:
        name, kind = sort
        key = (
            cast(DataRow.cells[name].as_string(), Numeric)
            if kind == "decimal"
            else _cell(name, kind)
        )
        ordering.append(key.desc() if descending else key.asc())
    ordering.append(DataRow.row_no)
    # as stored text, decoded here in one pass (the findings only when asked for, and only
    # where there are some): SQLAlchemy's per-value JSON processing costs more than decoding
    cells = type_coerce(DataRow.cells, Text)
    query = select(cells, type_coerce(DataRow.found, Text)) if with_found else select(cells)
    found = session.execute(query.where(*where).order_by(*ordering).limit(limit).offset(offset))
    if not with_found:
        return total, [_decoded(text) or {} for (text,) in found], []
    pairs = found.all()
    return total, [_decoded(c) or {} for c, _ in pairs], [_decoded(f) for _, f in pairs]


def _decoded(found: Any) -> dict[str, Any] | None:
    """Stored findings: text on SQLite (decoded here), already decoded by PostgreSQL's driver."""
    if found is None or found == "null":
        return None
    return json.loads(found) if isinstance(found, str) else dict(found)


def rows_after(
    session: Session, table_id: int, after: int, limit: int
) -> list[tuple[int, dict[str, Any]]]:
    rows = session.execute(
        select(DataRow.row_no, DataRow.cells)
        .where(DataRow.table_id == table_id, DataRow.row_no > after)
        .order_by(DataRow.row_no)
        .limit(limit)
    )
    return [(n, cells) for n, cells in rows]


def total_rows(session: Session) -> int:
    """Rows held over every resource's table."""
    return int(session.scalar(select(func.coalesce(func.sum(DataTable.row_count), 0))) or 0)
