"""A resource's rows: loaded from a table file, checked cell by cell against the resource's
data items, and read back with filters and paging.

A load replaces the resource's rows as a whole (``load_number`` counts them); a file with any bad
cell loads nothing and the report names every row and column at fault. Each load is on the
ledger with the file's SHA-256, so what was published can be proven later. Reading here is for
the provider unit and the platform; open data and sharing serve rows to others through
``query``, after their own checks.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import tables
from citybase.core.bus import service as bus
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.progress import Report, Stages, silent
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import DataItemRead, DataType, ResourceRead
from citybase.data.datastore import repository
from citybase.data.datastore.models import DataTable
from citybase.data.datastore.schemas import (
    CellProblem,
    LoadReport,
    RowPage,
    RowQuery,
    RowsLoaded,
    TableRead,
)
from citybase.data.grading import service as grading

MAX_ROWS = 200_000  # one load; larger tables belong in a database the resource points to
MAX_PROBLEMS = 200  # listed in a report; the count says if there were more
PROGRESS_ROWS = 1_000  # rows checked between two reports of progress
# a load's steps and their seconds when measured: 50,000 rows of six columns (the demo's air
# quality readings) on SQLite, a 2-CPU machine under load
LOAD_STEPS = (("read", 0.35), ("check", 2.2), ("store", 5.7))
_TRUE = {"1", "true", "t", "yes", "y", "是", "真"}
_FALSE = {"0", "false", "f", "no", "n", "否", "假"}
_DATE = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})[-/.月]?(\d{1,2})日?$")


# --- cells -------------------------------------------------------------------------------------


def convert(value: Any, item: DataItemRead) -> Any:
    """A cell as stored for the item's type; ``None`` for an empty cell. Raises ``ValueError``
    with a reason a person can act on."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = item.data_type
    if kind is DataType.integer:
        if isinstance(value, bool):
            raise ValueError("not a whole number")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        text = str(value).strip().replace(",", "")
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError("not a whole number")
        return int(text)
    if kind is DataType.decimal:
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation as exc:
            raise ValueError("not a number") from exc
        if not number.is_finite():
            raise ValueError("not a number")
        return format(number.normalize(), "f")
    if kind is DataType.date:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        found = _DATE.match(str(value).strip())
        if not found:
            raise ValueError("not a date (use YYYY-MM-DD)")
        try:
            return date(*(int(g) for g in found.groups())).isoformat()
        except ValueError as exc:
            raise ValueError("not a real date") from exc
    if kind is DataType.datetime:
        if isinstance(value, datetime):
            return value.replace(microsecond=0).isoformat()
        try:
            return datetime.fromisoformat(str(value).strip()).replace(microsecond=0).isoformat()
        except ValueError as exc:
            raise ValueError("not a date and time (use YYYY-MM-DD HH:MM:SS)") from exc
    if kind is DataType.boolean:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("not yes or no (是/否, true/false, 1/0)")
    text = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))  # a spreadsheet's 13800000000.0 is the text 13800000000
    if item.length and len(text) > item.length:
        raise ValueError(f"longer than {item.length} characters")
    return text


# --- files -------------------------------------------------------------------------------------


def read_table(filename: str, content: bytes) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of a CSV file or of an XLSX file's first sheet."""
    if not filename.lower().endswith((".csv", ".xlsx")):
        raise InvalidInput("rows load from .csv or .xlsx files", field="file")
    rows = next(iter(tables.read_sheets(filename, content).values()), [])
    if not rows:
        raise InvalidInput("the file has no header row", field="file")
    header = [str(c).strip() if c is not None else "" for c in rows[0]]
    return header, rows[1:]


# --- loading -----------------------------------------------------------------------------------


def _check_loader(principal: Principal, resource: ResourceRead) -> None:
    catalog.check_own_unit(principal, resource.provider_unit_code)


def _check_rows(
    resource: ResourceRead,
    header: list[str],
    rows: list[list[Any]],
    within: Callable[[float, str], None] | None = None,
) -> tuple[list[dict[str, Any]], list[CellProblem]]:
    items = {i.name: i for i in resource.items}
    problems: list[CellProblem] = []
    seen: set[str] = set()
    for name in header:
        if name not in items:
            problems.append(CellProblem(row=1, column=name, value=name,
                message=f"not a data item of {resource.code} (items: {', '.join(items)})"))  # fmt: skip
        elif name in seen:
            problems.append(CellProblem(row=1, column=name, value=name, message="column twice"))
        seen.add(name)
    if len(rows) > MAX_ROWS:
        problems.append(CellProblem(row=MAX_ROWS + 2, column="", value="",
            message=f"more than {MAX_ROWS:,} rows in one load"))  # fmt: skip
    if problems:
        return [], problems
    checked = []
    for number, row in enumerate(rows, start=2):
        if within is not None and number % PROGRESS_ROWS == 0:
            within((number - 1) / len(rows), f"{number - 1:,} / {len(rows):,}")
        values: dict[str, Any] = {}
        if len(row) > len(header) and any(c not in (None, "") for c in row[len(header) :]):
            problems.append(CellProblem(row=number, column="", value="",
                message="more cells than the header has columns"))  # fmt: skip
        for name, cell in zip(header, row, strict=False):
            try:
                values[name] = convert(cell, items[name])
            except ValueError as exc:
                problems.append(CellProblem(row=number, column=name,
                    value="" if cell is None else str(cell)[:100], message=str(exc)))  # fmt: skip
        checked.append(values)
    return checked, problems


def load_file(
    session: Session,
    principal: Principal,
    code: str,
    filename: str,
    content: bytes,
    *,
    dry_run: bool = False,
    progress: Report = silent,
) -> LoadReport:
    """Replace a resource's rows with a CSV or XLSX file whose header names its data items.
    Any bad cell: nothing is loaded, and the report lists the problems. ``progress`` follows
    the reading, the checking of each cell and the storing."""
    resource = catalog.get_accessible_resource(session, principal, code)
    _check_loader(principal, resource)
    stages = Stages(progress, LOAD_STEPS)
    stages.start("read", "reading the file")
    header, rows = read_table(filename, content)
    stages.start("check", "checking the cells")
    checked, problems = _check_rows(resource, header, rows, stages.within)
    report = LoadReport(rows=len(checked), columns=header, problems=problems[:MAX_PROBLEMS],
                        loaded=False)  # fmt: skip
    if problems or dry_run:
        stages.finish()
        return report
    stages.start("store", "storing the rows")
    _store(session, principal, resource, checked, filename, hashlib.sha256(content).hexdigest())
    stages.finish()
    return report.model_copy(update={"loaded": True})


def load_rows(
    session: Session, principal: Principal, code: str, rows: list[dict[str, Any]], source: str
) -> LoadReport:
    """Replace a resource's rows with the given records (item name → value)."""
    resource = catalog.get_accessible_resource(session, principal, code)
    _check_loader(principal, resource)
    header = list(dict.fromkeys(k for row in rows for k in row)) or [i.name for i in resource.items]
    matrix = [[row.get(name) for name in header] for row in rows]
    checked, problems = _check_rows(resource, header, matrix)
    if problems:
        first = problems[0]
        raise InvalidInput(
            f"row {first.row - 1}, {first.column}: {first.message} ({len(problems)} problem(s);"
            " nothing was loaded)",
            field="rows", problems=[p.model_dump() for p in problems[:MAX_PROBLEMS]],
        )  # fmt: skip
    digest = hashlib.sha256(repr(matrix).encode()).hexdigest()
    _store(session, principal, resource, checked, source, digest)
    return LoadReport(rows=len(checked), columns=header, problems=[], loaded=True)


def _store(
    session: Session,
    principal: Principal,
    resource: ResourceRead,
    rows: list[dict[str, Any]],
    source: str,
    digest: str,
) -> None:
    columns = [{"name": i.name, "type": i.data_type.value} for i in resource.items]
    scanned = _free_text_columns(resource)
    found = [_found(row, scanned) for row in rows]
    table = repository.table(session, resource.code)
    now = datetime.now(UTC)
    if table is None:
        table = DataTable(resource_code=resource.code, columns=columns, row_count=0,
                          load_number=0, loaded_by=principal.username, loaded_at=now)  # fmt: skip
        repository.add(session, table)
    table.columns, table.row_count, table.load_number = columns, len(rows), table.load_number + 1
    table.source, table.loaded_by, table.loaded_at = source[:200], principal.username, now
    table.scanned, table.scan_version = scanned, grading.RECOGNIZER_VERSION
    repository.replace_rows(session, table.id, rows, found)
    ledger.record(
        session, actor_of(principal), "datastore.load", object_type="data_resource",
        object_id=resource.code,
        details={"rows": len(rows), "load": table.load_number, "source": source[:200],
                 "sha256": digest},
    )  # fmt: skip
    bus.publish(session, RowsLoaded(code=resource.code, unit_code=resource.provider_unit_code,
                                    load_number=table.load_number, rows=len(rows)))  # fmt: skip


def _free_text_columns(resource: ResourceRead) -> list[str]:
    return [i.name for i in resource.items if grading.is_free_text(i)]


def _found(row: dict[str, Any], columns: list[str]) -> dict[str, Any] | None:
    """The personal data in a row's free-text cells, found once as the row is stored so that
    every masked read need not look again."""
    found = {}
    for name in columns:
        value = row.get(name)
        if isinstance(value, str) and value:
            spans = grading.spans_of(value)
            if spans:
                found[name] = spans
    return found or None


def rescan(session: Session, code: str, batch: int = 2_000) -> int:
    """Find the personal data in a resource's free-text cells again with the current
    recognizers (after they change; until then, reads scan as they serve). Returns the rows
    looked at."""
    table = repository.table(session, code)
    if table is None:
        raise NotFound(f"{code} carries no rows", field="code")
    resource = catalog.get_resource(session, code)
    scanned = _free_text_columns(resource)
    after, seen = 0, 0
    while chunk := repository.rows_after(session, table.id, after, batch):
        repository.set_found(session, table.id, {n: _found(cells, scanned) for n, cells in chunk})
        after, seen = chunk[-1][0], seen + len(chunk)
    table.scanned, table.scan_version = scanned, grading.RECOGNIZER_VERSION
    session.flush()
    return seen


def stale_scans(session: Session) -> list[str]:
    """Resources whose stored findings predate the current recognizers."""
    return [t.resource_code for t in repository.all_tables(session)
            if t.scan_version != grading.RECOGNIZER_VERSION]  # fmt: skip


def clear(session: Session, principal: Principal, code: str) -> None:
    resource = catalog.get_accessible_resource(session, principal, code)
    _check_loader(principal, resource)
    table = repository.table(session, code)
    if table is None:
        raise NotFound(f"{code} carries no rows", field="code")
    repository.delete_table(session, table)
    ledger.record(session, actor_of(principal), "datastore.clear", object_type="data_resource",
                  object_id=code, details={"rows": table.row_count})  # fmt: skip
    bus.publish(session, RowsLoaded(code=code, unit_code=resource.provider_unit_code,
                                    load_number=0, rows=0))  # fmt: skip


# --- reading -----------------------------------------------------------------------------------


def table_of(session: Session, code: str) -> TableRead | None:
    """A resource's table, with no access check (for the platform's own work and for domains
    that check access themselves, as ``catalog.get_resource``)."""
    table = repository.table(session, code)
    return None if table is None else TableRead.model_validate(table)


def tables_of(session: Session, codes: list[str]) -> dict[str, TableRead]:
    return {t.resource_code: TableRead.model_validate(t) for t in repository.tables(session, codes)}


def parse_filters(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"filters must be a JSON object: {exc.msg}", field="filters") from exc
    if not isinstance(value, dict):
        raise InvalidInput("filters must be a JSON object", field="filters")
    return value


def _typed_filters(table: TableRead, filters: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    kinds = {c.name: c.type for c in table.columns}
    typed = {}
    for name, value in filters.items():
        if name not in kinds:
            raise InvalidInput(f"no column {name}", field=f"filters.{name}")
        item = DataItemRead(name=name, data_type=DataType(kinds[name]))
        try:
            typed[name] = (kinds[name], convert(value, item))
        except ValueError as exc:
            raise InvalidInput(f"{name}: {exc}", field=f"filters.{name}") from exc
    return typed


def query(
    session: Session,
    code: str,
    request: RowQuery,
    searchable: list[str] | None = None,
    *,
    with_found: bool = False,
) -> RowPage:
    """One page of a resource's rows, with no access check (callers check; see ``table_of``).
    ``searchable`` limits the columns the text search ``q`` looks in (default: every text
    column), so that a reader cannot probe columns it may not see. ``with_found`` adds the
    personal data found in free-text cells when they were stored, for masking."""
    table = table_of(session, code)
    if table is None:
        raise NotFound(f"{code} carries no rows", field="code")
    names = [c.name for c in table.columns]
    for name in [*request.fields, *([request.sort] if request.sort else [])]:
        if name not in names:
            raise InvalidInput(
                f"no column {name}", field="fields" if name != request.sort else "sort"
            )
    kinds = {c.name: c.type for c in table.columns}
    total, rows, found = repository.find_rows(
        session, repository.table_id(session, code),
        filters=_typed_filters(table, request.filters), q=request.q,
        text_columns=[
            c.name for c in table.columns if c.type in ("string", "date", "datetime")
            and (searchable is None or c.name in searchable)
        ],
        sort=(request.sort, kinds[request.sort]) if request.sort else None,
        descending=request.direction.value == "desc", limit=request.limit, offset=request.offset,
        row_count=table.row_count, with_found=with_found,
    )  # fmt: skip
    shown = request.fields or names
    columns = [c for c in table.columns if c.name in shown]
    current = table.scan_version == grading.RECOGNIZER_VERSION
    return RowPage.model_construct(  # built from the table's own typed cells: not re-validated
        total=total, columns=columns,
        rows=rows if shown == names and all(len(v) == len(names) for v in rows)
        else [{n: values.get(n) for n in shown} for values in rows],
        found=found if with_found else None,
        scanned=list(table.scanned) if with_found and current else [],
    )  # fmt: skip


def iter_rows(session: Session, code: str, batch: int = 1_000) -> Iterator[dict[str, Any]]:
    """Every row of a resource, in order, a batch at a time (for exports; no access check)."""
    table_id = repository.table_id(session, code)
    after = 0
    while True:
        chunk = repository.rows_after(session, table_id, after, batch)
        if not chunk:
            return
        for row_no, values in chunk:
            yield values
            after = row_no


def iter_numbered_rows(
    session: Session, code: str, batch: int = 5_000
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every row of a resource with its row number (what a link to it keeps), in order, a batch
    at a time (no access check: for the platform's own derived data)."""
    table_id = repository.table_id(session, code)
    after = 0
    while True:
        chunk = repository.rows_after(session, table_id, after, batch)
        if not chunk:
            return
        yield from chunk
        after = chunk[-1][0]


def _may_read(principal: Principal, resource: ResourceRead) -> bool:
    return (
        principal.has_role(Role.platform_admin)
        or principal.unit_code == resource.provider_unit_code
    )


def get_table(session: Session, principal: Principal, code: str) -> TableRead | None:
    catalog.get_accessible_resource(session, principal, code)  # 404 for what one cannot see
    return table_of(session, code)


def query_own(session: Session, principal: Principal, code: str, request: RowQuery) -> RowPage:
    """Rows read by the provider unit (or the platform). Other units read through sharing."""
    resource = catalog.get_accessible_resource(session, principal, code)
    if not _may_read(principal, resource):
        raise Forbidden(
            "rows are read here by the provider unit; other units apply to share them",
            field="code",
        )
    return query(session, code, request)


def gathered_rows(session: Session) -> int:
    """政务数据汇聚量: the rows the platform holds, over every resource."""
    return repository.total_rows(session)
