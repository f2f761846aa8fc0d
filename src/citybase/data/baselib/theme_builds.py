"""Building a theme library (主题库): read its sources through traced reads, make its rows by its
definition's joins and filters, store them as its catalog resource's rows, grade them (the
highest of the sources, unless reviewed down), score their quality; and the schedule that
rebuilds the libraries due. The definition and the catalog entry are ``themes.py``'s."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import CitybaseError, Conflict, Forbidden
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import repository
from citybase.data.baselib.linkage import Kind
from citybase.data.baselib.models import ThemeBuild, ThemeLibrary
from citybase.data.baselib.schemas import (
    ThemeBuildRead,
    ThemeSpec,
)
from citybase.data.baselib.service import KEEPER_BASIS, is_steward
from citybase.data.baselib.themes import (
    ensure_rules,
    grade_in_force,
    parse_spec,
    register_entry,
    require_edit,
    theme_of,
)
from citybase.data.catalog import service as catalog
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Level, ScanRequest
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.quality import service as quality
from citybase.data.sharing import access
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import ReadContext

THEME_BASIS = "主题库归集（主题库定义所列来源）"
UNGRADED = Level.general_3  # a source never graded counts as personal information
BUILD_PURPOSE = "主题库构建"


# --- reading the sources (traced) ----------------------------------------------------------------


@dataclass
class _Read:
    rows: list[tuple[int, dict[str, Any]]]
    report: dict[str, Any]


def _read_resource(
    session: Session, principal: Principal, theme: ThemeLibrary, code: str, used: set[str],
    keys: ops.Keys,
) -> _Read:  # fmt: skip
    """All rows of a source, on the basis the builder reads it on, traced. Raises naming the
    source where there is none."""
    resource = catalog.get_resource(session, code)
    plan = masking.plan_for(session, code, resource)
    basis, mask = "", None
    if principal.unit_code == resource.provider_unit_code:
        basis = access.OWN_DATA_BASIS
    elif principal.has_role(Role.platform_admin):
        basis = access.PLATFORM_BASIS
    else:
        grant = sharing.grant_for(session, principal, code)
        if grant is None:
            raise Forbidden(f"{principal.unit_code} holds no grant in force for {code}: "
                            "request it before building from it", field="sources")  # fmt: skip
        outside = sorted(used - set(grant.fields))
        if outside:
            raise Forbidden(f"the grant for {code} does not cover {', '.join(outside)}",
                            field="sources")  # fmt: skip
        basis = f"{THEME_BASIS}；共享授权 {grant.request_number or grant.id}"
        mask = masking.Masker(plan, keys, sorted(used))
    table = datastore.table_of(session, code)
    rows = list(datastore.iter_numbered_rows(session, code)) if table else []
    subjects = masking.subjects(plan, (r for _, r in rows))
    if mask is not None:
        rows = [(n, mask.row({k: v for k, v in r.items() if k in used})) for n, r in rows]
    access_id = access.record_read(
        session, principal, what=code, object_type="data_resource", action="baselib.theme.read",
        operation="theme", provider_unit_code=resource.provider_unit_code, legal_basis=basis,
        ctx=build_context(theme), fields=sorted(used),
        rows=len(rows), subject_values=subjects, keys=keys,
    )  # fmt: skip
    return _Read(rows, {
        "resource_code": code, "name": resource.name, "unit_code": resource.provider_unit_code,
        "rows": len(rows), "legal_basis": basis, "access_id": access_id,
        "level": grading.level_of(session, code),
    })  # fmt: skip


def _read_library(
    session: Session, principal: Principal, theme: ThemeLibrary, kind: Kind, fields: list[str],
    entity_ids: set[int], keys: ops.Keys, settings: BaselibSettings,
) -> tuple[dict[int, dict[str, Any]], dict[str, Any], set[str]]:  # fmt: skip
    """The golden fields of the files the rows are linked to, kept by the base libraries'
    stewards (or the platform admins) and read on that basis, traced with every data subject.
    Returns the values by file, the read's report, and the resources the values came from."""
    if not is_steward(principal, settings):
        raise Forbidden("base-library fields are put in a theme library by the base libraries' "
                        "stewards or the platform admins", field="sources")  # fmt: skip
    values: dict[int, dict[str, Any]] = {}
    origins: set[str] = set()
    subjects: set[str] = set()
    key_field = "citizen_id" if kind is Kind.person else "credit_code"
    for golden in repository.golden_for(session, sorted(entity_ids)):
        if golden.field == key_field:
            subjects.add(golden.value)
        if golden.field in fields:
            values.setdefault(golden.entity_id, {})[golden.field] = golden.value
            origins.add(golden.resource_code)
    basis = KEEPER_BASIS if not principal.has_role(Role.platform_admin) else access.PLATFORM_BASIS
    access_id = access.record_read(
        session, principal, what=f"baselib:{kind.value}", object_type="base_library",
        action="baselib.theme.read", operation="theme", provider_unit_code=settings.steward_unit,
        legal_basis=basis, ctx=build_context(theme),
        fields=fields, rows=len(values), subject_values=subjects, keys=keys,
    )  # fmt: skip
    return values, {
        "library": kind.value, "unit_code": settings.steward_unit, "rows": len(values),
        "legal_basis": basis, "access_id": access_id, "resources": sorted(origins),
    }, origins  # fmt: skip


def build_context(theme: ThemeLibrary) -> ReadContext:
    """What a build's reads state: their purpose, and as their case the build itself (THEME,
    the day, the library's number), so that an auditor finds every read of one build."""
    number = f"THEME{clock.today():%Y%m%d}{theme.id:04d}"
    return ReadContext(purpose=f"{BUILD_PURPOSE}：{theme.name}", case_number=number)


# --- the rows ------------------------------------------------------------------------------------


def _matches(value: Any, op: str, wanted: Any) -> bool:
    if op == "not_empty":
        return value not in (None, "")
    if op in ("in", "not_in"):
        found = str(value) in {str(w) for w in wanted}
        return found if op == "in" else not found
    if op == "contains":
        return value is not None and str(wanted) in str(value)
    if op in ("eq", "ne"):
        same = value == wanted or (value is not None and str(value).lower() == str(wanted).lower())
        return same if op == "eq" else not same
    if value is None:
        return False
    try:
        left, right = float(value), float(wanted)
        return left >= right if op == "gte" else left <= right
    except (TypeError, ValueError):
        return str(value) >= str(wanted) if op == "gte" else str(value) <= str(wanted)


@dataclass
class _Built:
    rows: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)


def make_rows(
    session: Session, principal: Principal, theme: ThemeLibrary, spec: ThemeSpec, keys: ops.Keys,
    settings: BaselibSettings,
) -> _Built:  # fmt: skip
    """Read the sources and make the library's rows: one per row of the first source that
    its inner joins and filters keep; a join takes the first matching row."""
    built = _Built()
    used: dict[str, set[str]] = {s.alias: set() for s in spec.sources}
    for ref in [c.source for c in spec.columns] + [f.column for f in spec.filters]:
        alias, _, name = ref.partition(".")
        used[alias].add(name)
    for source in spec.sources:
        if source.join is not None:
            used[source.join.to].update(source.join.on)
            used[source.alias].update(source.join.on.values())
    first = spec.sources[0]
    read = _read_resource(session, principal, theme, first.resource, used[first.alias], keys)
    built.reports.append({"alias": first.alias, **read.report})
    built.levels.append(read.report["level"])
    # context per driving row: alias → (resource code, row number, row)
    contexts: list[dict[str, tuple[str, int, dict[str, Any]]]] = [
        {first.alias: (first.resource, n, row)} for n, row in read.rows
    ]
    links: dict[str, dict[tuple[str, int], int]] = {}

    def entity_of(kind: Kind, code: str, row_no: int) -> int | None:
        if kind.value not in links:
            links[kind.value] = {
                (lk.resource_code, lk.row_no): lk.entity_id
                for lk in repository.links(session, kind.value)
            }
        return links[kind.value].get((code, row_no))

    for source in spec.sources[1:]:
        join = source.join
        assert join is not None
        index: dict[Any, tuple[str, int, dict[str, Any]]] = {}
        if source.library:
            kind = source.library
            wanted = {
                eid for ctx in contexts if join.to in ctx
                if (eid := entity_of(kind, ctx[join.to][0], ctx[join.to][1])) is not None
            }  # fmt: skip
            values, report, origins = _read_library(
                session, principal, theme, kind, source.fields, wanted, keys, settings
            )
            built.reports.append({"alias": source.alias, **report})
            built.levels.extend(grading.level_of(session, c) for c in sorted(origins))
            index = {eid: (f"baselib:{kind.value}", eid, v) for eid, v in values.items()}
        else:
            read = _read_resource(session, principal, theme, source.resource,
                                  used[source.alias], keys)  # fmt: skip
            built.reports.append({"alias": source.alias, **read.report})
            built.levels.append(read.report["level"])
            for n, row in read.rows:
                if join.entity:
                    key: Any = entity_of(join.entity, source.resource, n)
                else:
                    key = tuple(str(row.get(c)) for c in join.on.values())
                if key is not None and key not in index:
                    index[key] = (source.resource, n, row)
        kept = []
        for ctx in contexts:
            match = None
            if join.to in ctx:
                code, row_no, row = ctx[join.to]
                if join.entity:
                    key = entity_of(join.entity, code, row_no)
                else:
                    key = tuple(str(row.get(c)) for c in join.on)
                match = index.get(key) if key is not None else None
            if match is not None:
                ctx[source.alias] = match
            elif join.how == "inner":
                continue
            kept.append(ctx)
        contexts = kept

    def cell(ctx: dict[str, tuple[str, int, dict[str, Any]]], ref: str) -> Any:
        alias, _, name = ref.partition(".")
        return ctx[alias][2].get(name) if alias in ctx else None

    for ctx in contexts:
        if all(_matches(cell(ctx, f.column), f.op, f.value) for f in spec.filters):
            built.rows.append({c.name: cell(ctx, c.source) for c in spec.columns})
    return built


def grade_of(levels: list[str]) -> str:
    """The highest of the sources' levels (an ungraded source counts as 一般数据 3 级)."""
    ranked = [Level(lv) if lv else UNGRADED for lv in levels] or [UNGRADED]
    return max(ranked, key=lambda lv: lv.rank).value


def _sample(rows: list[dict[str, Any]]) -> list[dict[str, str | int | float | None]]:
    def plain(v: Any) -> str | int | float | None:
        return v if v is None or isinstance(v, int | float | str) else str(v)

    return [{k: plain(v) for k, v in row.items()} for row in rows[:50]]


def _apply_grade(session: Session, principal: Principal, theme: ThemeLibrary,
                 rows: list[dict[str, Any]]) -> str:  # fmt: skip
    """Grade the library's resource: the reviewed level, else its sources' highest; a scan of
    its rows that finds more (an ID number in a 1 级 source's free text) raises it further."""
    code = theme.resource_code
    scan = grading.scan_resource(session, principal, code, ScanRequest(rows=_sample(rows)))
    target = Level(grade_in_force(theme))
    reason = (f"主题库定级（经复核）：{theme.review_reason}" if theme.reviewed_grade
              else "主题库定级：取来源中的最高级别")  # fmt: skip
    try:
        grading.decide(session, principal, code, Decision(level=target, reason=reason))
        return target.value
    except Conflict:
        proposed = Level(scan.proposed_level)
        grading.decide(session, principal, code, Decision(
            level=proposed, reason="主题库定级：数据中发现的信息高于来源级别"))  # fmt: skip
        return proposed.value


def build_theme(
    session: Session, principal: Principal, code: str, keys: ops.Keys, settings: BaselibSettings,
    *, scheduled: bool = False,
) -> ThemeBuildRead:  # fmt: skip
    """Build a theme library: read its sources (traced), make its rows, store them as its
    resource's rows, grade it and score its quality. A build that fails (a source one may not
    read, a row that does not fit) changes nothing but is kept, with why, on the ledger."""
    theme = theme_of(session, code)
    require_edit(principal, theme.owner_unit_code)
    now = datetime.now(UTC)
    build = ThemeBuild(theme_id=theme.id, version=theme.version, started_at=now,
                       built_by=principal.username, scheduled=scheduled, status="ok")  # fmt: skip
    savepoint = session.begin_nested()
    try:
        spec = parse_spec(session, theme.spec)
        made = make_rows(session, principal, theme, spec, keys, settings)
        theme.resource_code = register_entry(session, principal, theme, spec)
        datastore.load_rows(session, principal, theme.resource_code, made.rows,
                            f"theme:{theme.code} v{theme.version}")  # fmt: skip
        theme.source_grade = grade_of(made.levels)
        build.grade = _apply_grade(session, principal, theme, made.rows)
        ensure_rules(session, principal, theme.resource_code, spec)
        score = quality.run(session, actor_of(principal), theme.resource_code).score
        build.rows, build.sources, build.quality_score = len(made.rows), made.reports, score
        theme.rows, theme.quality_score, theme.last_built_at = len(made.rows), score, now
        savepoint.commit()
    except CitybaseError as exc:
        savepoint.rollback()
        build.status, build.message = "failed", f"{exc.field or 'build'}: {exc.message}"
    theme.next_due_at = now + timedelta(hours=theme.refresh_hours)
    if not scheduled:
        theme.built_by = principal.username
    build.finished_at = datetime.now(UTC)
    repository.add(session, build)
    ledger.record(
        session, actor_of(principal),
        "baselib.theme.build" if build.status == "ok" else "baselib.theme.build.failed",
        object_type="theme_library", object_id=theme.code, reason=build.message or BUILD_PURPOSE,
        details={"build": build.id, "rows": build.rows, "grade": build.grade,
                 "quality": build.quality_score, "scheduled": scheduled,
                 "reads": [s.get("access_id") for s in build.sources]},
    )  # fmt: skip
    return ThemeBuildRead.model_validate(build)


def last_builder(session: Session, code: str) -> str:
    """Who last built a theme library by hand (a scheduled or command-line build acts as them)."""
    return theme_of(session, code).built_by


def due(session: Session, now: datetime | None = None) -> list[str]:
    return [t.code for t in repository.themes_due(session, now or datetime.now(UTC))]


def build_due(
    session: Session, keys: ops.Keys, settings: BaselibSettings, now: datetime | None = None
) -> Iterator[ThemeBuildRead]:
    """The schedule: rebuild every library whose refresh is due, with the rights of whoever
    last built it by hand (a library never built by hand waits for its first build)."""
    from citybase.core.identity import service as identity

    for code in due(session, now):
        theme = theme_of(session, code)
        try:
            principal = identity.principal_for(session, theme.built_by)
        except CitybaseError:
            theme.next_due_at = (now or datetime.now(UTC)) + timedelta(hours=theme.refresh_hours)
            continue
        try:
            yield build_theme(session, principal, code, keys, settings, scheduled=True)
        except Forbidden as exc:  # the last builder lost the right: wait for someone who has it
            theme.next_due_at = (now or datetime.now(UTC)) + timedelta(hours=theme.refresh_hours)
            ledger.record(session, actor_of(principal), "baselib.theme.build.failed",
                          object_type="theme_library", object_id=code, reason=exc.message)  # fmt: skip
