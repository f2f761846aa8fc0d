"""Regions and units: the verbs that change them, and the reads other domains use."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import repository
from citybase.core.orgs.models import Region, Unit
from citybase.core.orgs.schemas import (
    OFFICIAL_CODE_LENGTH,
    ImportProblem,
    ImportReport,
    RegionChanged,
    RegionCreate,
    RegionDetail,
    RegionLevel,
    RegionOption,
    RegionPicker,
    RegionRead,
    RegionUpdate,
    UnitChanged,
    UnitCreate,
    UnitKind,
    UnitRead,
    UnitUpdate,
)
from citybase.core.progress import Report, Stages, silent
from citybase.core.tables import csv_records

# --- regions -----------------------------------------------------------------------------------


def get_region(session: Session, code: str) -> RegionRead:
    region = repository.get_region(session, code)
    if region is None:
        raise NotFound(f"no region with code {code}", field="code")
    return RegionRead.model_validate(region)


def list_regions(
    session: Session, *, level: RegionLevel | None = None, parent_code: str | None = None
) -> list[RegionRead]:
    rows = repository.list_regions(session, level=level, parent_code=parent_code)
    return [RegionRead.model_validate(r) for r in rows]


def region_detail(session: Session, code: str) -> RegionDetail:
    region = get_region(session, code)
    return RegionDetail(
        **region.model_dump(),
        path=region_path(session, code)[:-1],
        children=[RegionRead.model_validate(r) for r in repository.children(session, code)],
    )


def region_path(session: Session, code: str) -> list[RegionRead]:
    """The region and its ancestors, top down."""
    path: list[RegionRead] = []
    current: str | None = code
    while current is not None and len(path) < 10:
        region = repository.get_region(session, current)
        if region is None:
            break
        path.append(RegionRead.model_validate(region))
        current = region.parent_code
    return list(reversed(path))


def region_tree(session: Session) -> list[dict[str, Any]]:
    """Every region as nested dicts ``{"region": RegionRead, "children": [...]}``."""
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    regions = repository.all_regions(session)
    for r in regions:
        nodes[r.code] = {"region": RegionRead.model_validate(r), "children": []}
    for r in regions:
        node = nodes[r.code]
        parent = nodes.get(r.parent_code) if r.parent_code else None
        (parent["children"] if parent else roots).append(node)
    return roots


def region_children(
    session: Session, parent_code: str = "", level: RegionLevel = RegionLevel.district
) -> list[RegionOption]:
    """The regions right under ``parent_code``; with none, those of ``level`` (the picker's
    first list)."""
    rows = (repository.children(session, parent_code) if parent_code
            else repository.list_regions(session, level=level))  # fmt: skip
    return [RegionOption(code=r.code, name=r.name, level=RegionLevel(r.level)) for r in rows]


def region_picker(
    session: Session,
    selected: str = "",
    deepest: RegionLevel = RegionLevel.grid,
    top: RegionLevel = RegionLevel.district,
) -> RegionPicker:
    """The regions a picker offers, from ``top`` (the districts) down to ``deepest`` (see
    RegionPicker)."""
    levels = [lv for lv in RegionLevel if top.depth <= lv.depth <= deepest.depth]
    by_parent: dict[str | None, list[Any]] = {}
    by_code: dict[str, Any] = {}
    for r in repository.all_regions(session):
        by_parent.setdefault(r.parent_code, []).append(r)
        by_code[r.code] = r
    options: list[tuple[RegionOption, int]] = []

    def walk(region: Any, depth: int) -> None:
        options.append((RegionOption(code=region.code, name=region.name,
                                     level=RegionLevel(region.level)), depth))  # fmt: skip
        for child in by_parent.get(region.code, []):
            if RegionLevel(child.level) in levels:
                walk(child, depth + 1)

    for r in by_code.values():
        if r.level == top:
            walk(r, 0)
    path: list[str] = []
    current = by_code.get(selected)
    while current is not None and RegionLevel(current.level) in levels and len(path) < 10:
        path.insert(0, current.code)
        current = by_code.get(current.parent_code) if current.parent_code else None
    return RegionPicker(options=options, path=path, levels=levels)


def descendant_codes(session: Session, code: str) -> set[str]:
    """The region and every region below it."""
    by_parent: dict[str, list[str]] = {}
    for r in repository.all_regions(session):
        if r.parent_code:
            by_parent.setdefault(r.parent_code, []).append(r.code)
    found, todo = {code}, [code]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _check_region_placement(
    data: RegionCreate, parent: Region | RegionCreate | None, row_field: str = "parent_code"
) -> None:
    if data.level is RegionLevel.city:
        if data.parent_code is not None:
            raise InvalidInput("a city has no parent region", field=row_field)
    else:
        if parent is None:
            raise InvalidInput(
                f"parent region {data.parent_code or '(none)'} does not exist", field=row_field
            )
        parent_level = RegionLevel(parent.level)
        if data.level.depth != parent_level.depth + 1:
            raise InvalidInput(
                f"a {data.level.value} must sit directly under a "
                f"{list(RegionLevel)[data.level.depth - 1].value}, not a {parent_level.value}",
                field=row_field,
            )
    if data.official and data.level in OFFICIAL_CODE_LENGTH:
        length = OFFICIAL_CODE_LENGTH[data.level]
        if len(data.code) != length or not data.code.isdigit():
            raise InvalidInput(
                f"an official {data.level.value} code has {length} digits", field="code"
            )
        if parent is not None and parent.official and parent.level != RegionLevel.city:
            prefix = parent.code[: OFFICIAL_CODE_LENGTH.get(RegionLevel(parent.level), 0)]
            if not data.code.startswith(prefix):
                raise InvalidInput(
                    f"code {data.code} does not start with its parent's code {prefix}",
                    field="code",
                )
        if (
            data.level is RegionLevel.district
            and parent is not None
            and parent.official
            and data.code[:4] != parent.code[:4]
        ):
            raise InvalidInput(f"code {data.code} is not in city {parent.code}", field="code")


def create_region(session: Session, actor: Actor, data: RegionCreate) -> RegionRead:
    if repository.get_region(session, data.code) is not None:
        raise Conflict(f"region {data.code} already exists", field="code")
    parent = repository.get_region(session, data.parent_code) if data.parent_code else None
    _check_region_placement(data, parent)
    region = Region(**data.model_dump())
    repository.add(session, region)
    ledger.record(
        session, actor, "region.create", object_type="region", object_id=region.code,
        details={"name": region.name, "level": region.level, "parent": region.parent_code},
    )  # fmt: skip
    bus.publish(session, RegionChanged(region_code=region.code, name=region.name, created=True))
    return RegionRead.model_validate(region)


def update_region(session: Session, actor: Actor, code: str, data: RegionUpdate) -> RegionRead:
    region = repository.get_region(session, code)
    if region is None:
        raise NotFound(f"no region with code {code}", field="code")
    changes = _apply(region, data.model_dump(exclude_unset=True, exclude_none=True))
    if changes:
        session.flush()
        ledger.record(
            session, actor, "region.update", object_type="region", object_id=code,
            details={"changes": changes},
        )  # fmt: skip
        bus.publish(session, RegionChanged(region_code=code, name=region.name, created=False))
    return RegionRead.model_validate(region)


def _apply(obj: object, values: dict[str, Any]) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for name, value in values.items():
        old = getattr(obj, name)
        if old != value:
            changes[name] = [old, value]
            setattr(obj, name, value)
    return changes


# --- units -------------------------------------------------------------------------------------


def _unit_read(session: Session, units: Iterable[Unit]) -> list[UnitRead]:
    units = list(units)
    regions = repository.get_regions(session, [u.region_code for u in units])
    counterparts = repository.get_units(
        session, [u.counterpart_id for u in units if u.counterpart_id is not None]
    )
    result = []
    for u in units:
        cp = counterparts.get(u.counterpart_id) if u.counterpart_id else None
        result.append(
            UnitRead(
                id=u.id,
                code=u.code,
                name=u.name,
                short_name=u.short_name,
                kind=UnitKind(u.kind),
                credit_code=u.credit_code,
                region_code=u.region_code,
                region_name=regions[u.region_code].name if u.region_code in regions else "",
                counterpart_code=cp.code if cp else None,
                counterpart_name=cp.name if cp else None,
                active=u.active,
                created_at=u.created_at,
                updated_at=u.updated_at,
            )
        )
    return result


def get_unit(session: Session, code: str) -> UnitRead:
    unit = repository.get_unit_by_code(session, code)
    if unit is None:
        raise NotFound(f"no unit with code {code}", field="code")
    return _unit_read(session, [unit])[0]


def unit_code(session: Session, unit_id: int) -> str:
    """Just the code of a unit (the cheap lookup the permission checks need on every request)."""
    unit = repository.get_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"no unit with id {unit_id}", field="unit_id")
    return unit.code


def region_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Code → name of the given regions (those that exist)."""
    return repository.region_names(session, codes)


def unit_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Code → name of the given units (those that exist)."""
    return repository.unit_names(session, codes)


def units_by_id(session: Session, ids: Iterable[int]) -> dict[int, UnitRead]:
    return {u.id: u for u in _unit_read(session, repository.get_units(session, ids).values())}


def list_units(
    session: Session,
    *,
    region_code: str | None = None,
    include_subregions: bool = False,
    search: str = "",
    active: bool | None = None,
    kind: UnitKind | None = None,
) -> list[UnitRead]:
    regions: set[str] | None = None
    if region_code:
        get_region(session, region_code)
        regions = descendant_codes(session, region_code) if include_subregions else {region_code}
    rows = repository.list_units(session, region_codes=regions, search=search, active=active,
                                 kind=kind.value if kind is not None else None)  # fmt: skip
    return _unit_read(session, rows)


def _resolve_unit_refs(
    session: Session, region_code: str | None, counterpart_code: str | None, self_code: str
) -> tuple[Region | None, Unit | None]:
    region = None
    if region_code is not None:
        region = repository.get_region(session, region_code)
        if region is None:
            raise InvalidInput(f"region {region_code} does not exist", field="region_code")
    counterpart = None
    if counterpart_code:
        if counterpart_code == self_code:
            raise InvalidInput("a unit cannot be its own counterpart", field="counterpart_code")
        counterpart = repository.get_unit_by_code(session, counterpart_code)
        if counterpart is None:
            raise InvalidInput(
                f"counterpart unit {counterpart_code} does not exist", field="counterpart_code"
            )
    return region, counterpart


def _check_credit_code_free(session: Session, credit_code: str | None, unit_id: int | None) -> None:
    if credit_code:
        other = repository.get_unit_by_credit_code(session, credit_code)
        if other is not None and other.id != unit_id:
            raise Conflict(
                f"credit code {credit_code} already belongs to {other.name}", field="credit_code"
            )


def create_unit(session: Session, actor: Actor, data: UnitCreate) -> UnitRead:
    if repository.get_unit_by_code(session, data.code) is not None:
        raise Conflict(f"unit {data.code} already exists", field="code")
    _, counterpart = _resolve_unit_refs(session, data.region_code, data.counterpart_code, data.code)
    _check_credit_code_free(session, data.credit_code, None)
    unit = Unit(
        code=data.code,
        name=data.name,
        short_name=data.short_name,
        kind=data.kind.value,
        credit_code=data.credit_code,
        region_code=data.region_code,
        counterpart_id=counterpart.id if counterpart else None,
    )
    repository.add(session, unit)
    ledger.record(
        session, actor, "unit.create", object_type="unit", object_id=unit.code,
        details={"name": unit.name, "region": unit.region_code,
                 "counterpart": counterpart.code if counterpart else None},
    )  # fmt: skip
    bus.publish(
        session,
        UnitChanged(
            unit_code=unit.code, name=unit.name, region_code=unit.region_code, created=True
        ),
    )
    return _unit_read(session, [unit])[0]


def update_unit(session: Session, actor: Actor, code: str, data: UnitUpdate) -> UnitRead:
    unit = repository.get_unit_by_code(session, code)
    if unit is None:
        raise NotFound(f"no unit with code {code}", field="code")
    values = data.model_dump(exclude_unset=True)
    counterpart_code = values.pop("counterpart_code", None)
    clear_counterpart = "counterpart_code" in data.model_fields_set and not counterpart_code
    region_code = values.get("region_code")
    _, counterpart = _resolve_unit_refs(session, region_code, counterpart_code, code)
    if "credit_code" in values:
        values["credit_code"] = values["credit_code"] or None
        _check_credit_code_free(session, values["credit_code"], unit.id)
    if "kind" in values and values["kind"] is not None:
        values["kind"] = values["kind"].value
    values = {k: v for k, v in values.items() if v is not None or k == "credit_code"}
    if counterpart is not None:
        values["counterpart_id"] = counterpart.id
    elif clear_counterpart:
        values["counterpart_id"] = None
    changes = _apply(unit, values)
    if changes:
        session.flush()
        ledger.record(
            session, actor, "unit.update", object_type="unit", object_id=code,
            details={"changes": changes},
        )  # fmt: skip
        bus.publish(
            session,
            UnitChanged(
                unit_code=code, name=unit.name, region_code=unit.region_code, created=False,
                changes=sorted(changes),
            ),
        )  # fmt: skip
    return _unit_read(session, [unit])[0]


# --- import ------------------------------------------------------------------------------------


def parse_import(filename: str, content: bytes) -> dict[str, list[dict[str, Any]]]:
    """Read a CSV (regions or units, told apart by their header) or a YAML file with both."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text", field="file") from exc
    name = filename.lower()
    if name.endswith((".yaml", ".yml")):
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"the YAML cannot be read: {exc}", field="file") from exc
        if not isinstance(data, dict) or not set(data) <= {"regions", "units"}:
            raise InvalidInput("the YAML must hold a 'regions' and/or a 'units' list", field="file")
        result: dict[str, list[dict[str, Any]]] = {}
        for key in ("regions", "units"):
            rows = data.get(key) or []
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise InvalidInput(f"'{key}' must be a list of mappings", field="file")
            result[key] = rows
        return result
    if name.endswith(".csv"):
        fieldnames, records = csv_records(text)
        header = set(fieldnames)
        rows = [{k: v for k, v in row.items() if k is not None} for row in records]
        if "level" in header:
            return {"regions": rows, "units": []}
        if "region_code" in header or "region" in header:
            return {"regions": [], "units": rows}
        raise InvalidInput(
            "the CSV header must name 'level' (regions) or 'region_code' (units)", field="file"
        )
    raise InvalidInput("only .csv, .yaml and .yml files can be imported", field="file")


_ALIASES = {"parent": "parent_code", "region": "region_code", "counterpart": "counterpart_code"}


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        key = _ALIASES.get(str(key).strip(), str(key).strip())
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                continue
        out[key] = value
    return out


def _problems(row_number: int, exc: ValidationError) -> list[ImportProblem]:
    return [
        ImportProblem(
            row=row_number, field=".".join(str(p) for p in err["loc"]) or "?", message=err["msg"]
        )
        for err in exc.errors()
    ]


IMPORT_CHECK, IMPORT_APPLY = "checking the rows", "applying the regions and units"
# an import's steps and their rough shares of its time: applying, row by row with each change on
# the ledger, is most of it
IMPORT_STEPS = (("check", 1.0), ("apply", 3.0))


def import_orgs(
    session: Session,
    actor: Actor,
    filename: str,
    content: bytes,
    *,
    dry_run: bool = False,
    progress: Report = silent,
) -> list[ImportReport]:
    """Import regions and units. A file with any bad row imports nothing; the report names them.

    Rows whose code exists update that region or unit; others are created. Regions are applied
    top down, so a file may hold a parent and its children in any order.
    """
    stages = Stages(progress, IMPORT_STEPS)
    stages.start("check", IMPORT_CHECK)
    parsed = parse_import(filename, content)
    first_row = 2 if filename.lower().endswith(".csv") else 1
    region_report = ImportReport(kind="regions", rows=len(parsed["regions"]))
    unit_report = ImportReport(kind="units", rows=len(parsed["units"]))

    regions: list[tuple[int, RegionCreate]] = []
    for i, raw in enumerate(parsed["regions"]):
        try:
            regions.append((i + first_row, RegionCreate.model_validate(_normalise(raw))))
        except ValidationError as exc:
            region_report.problems.extend(_problems(i + first_row, exc))
    units: list[tuple[int, UnitCreate]] = []
    for i, raw in enumerate(parsed["units"]):
        try:
            units.append((i + first_row, UnitCreate.model_validate(_normalise(raw))))
        except ValidationError as exc:
            unit_report.problems.extend(_problems(i + first_row, exc))
    _check_duplicates(regions, region_report, "code")
    _check_duplicates(units, unit_report, "code")

    reports = [region_report, unit_report]
    if any(r.problems for r in reports):
        stages.finish()
        return reports
    stages.start("apply", IMPORT_APPLY)

    # Savepoint: apply row by row so that later rows see earlier ones, undo all on any problem.
    savepoint = session.begin_nested()
    try:
        _apply_regions(session, actor, regions, region_report)
        if not region_report.problems:
            _apply_units(session, actor, units, unit_report)
    except BaseException:
        savepoint.rollback()
        raise
    stages.finish()
    if dry_run or any(r.problems for r in reports):
        savepoint.rollback()
        return reports
    savepoint.commit()
    for r in reports:
        r.applied = True
    return reports


def _check_duplicates(rows: list[tuple[int, Any]], report: ImportReport, key: str) -> None:
    seen: dict[str, int] = {}
    for number, row in rows:
        value = getattr(row, key)
        if value in seen:
            report.problems.append(
                ImportProblem(row=number, field=key, message=f"{value} repeats row {seen[value]}")
            )
        seen[value] = number


def _apply_rows(
    rows: list[tuple[int, Any]], apply_one: Callable[[Any], str], report: ImportReport
) -> None:
    """Apply rows in order; each returns created, updated or unchanged, or names its problem."""
    for number, data in rows:
        try:
            outcome = apply_one(data)
        except (InvalidInput, Conflict, NotFound) as exc:
            report.problems.append(
                ImportProblem(row=number, field=exc.field or "?", message=exc.message)
            )
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
    report.problems.sort(key=lambda p: p.row)


def _apply_regions(
    session: Session, actor: Actor, rows: list[tuple[int, RegionCreate]], report: ImportReport
) -> None:
    def apply_one(data: RegionCreate) -> str:
        existing = repository.get_region(session, data.code)
        if existing is None:
            create_region(session, actor, data)
            return "created"
        if existing.level != data.level or existing.parent_code != data.parent_code:
            raise InvalidInput(
                "an existing region's level and parent cannot be changed by import",
                field="parent_code",
            )
        before = (existing.name, existing.kind, existing.sort_order)
        update_region(
            session, actor, data.code,
            RegionUpdate(name=data.name, kind=data.kind, sort_order=data.sort_order),
        )  # fmt: skip
        return (
            "updated"
            if before != (existing.name, existing.kind, existing.sort_order)
            else "unchanged"
        )

    # parents before children, whatever the order of the file
    _apply_rows(sorted(rows, key=lambda item: item[1].level.depth), apply_one, report)


def _apply_units(
    session: Session, actor: Actor, rows: list[tuple[int, UnitCreate]], report: ImportReport
) -> None:
    def apply_one(data: UnitCreate) -> str:
        existing = repository.get_unit_by_code(session, data.code)
        if existing is None:
            create_unit(session, actor, data)
            return "created"
        before = _unit_read(session, [existing])[0].model_dump(exclude={"updated_at"})
        after = update_unit(
            session, actor, data.code,
            UnitUpdate.model_validate(data.model_dump(exclude={"code"}, exclude_unset=True)),
        )  # fmt: skip
        return "updated" if after.model_dump(exclude={"updated_at"}) != before else "unchanged"

    # units without a counterpart first, so that counterparts named in the file exist in time
    _apply_rows(
        sorted(rows, key=lambda item: item[1].counterpart_code is not None), apply_one, report
    )
