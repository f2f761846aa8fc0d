"""Theme libraries (主题库): governed data sets derived from catalog resources and the base
libraries' golden fields.

The plans name them: "到2026年，构建医疗健康、交通运输、教育养老、医保定点规划等18个主题库"
(Fuzhou's 数字化全面赋能 plan, 2025) and "构建医疗、社保、生态、应急等主题库15个以上" (Xiamen's,
2025). A theme library here is:

- a **definition** (``ThemeSpec``, kept as JSON, given as JSON or YAML): its sources (catalog
  resources, base-library golden fields), how they join (equal columns, or the base-library file
  both rows are linked to), filters, and output columns with their data elements; checked
  field by field, every error naming the field (``spec.sources[1].resource``);
- an **owner unit**, whose data stewards (and the platform admins) define and build it;
- a **catalog entry**: a resource of its own (classification 类 2 主题), provided by the owner unit,
  with its sources as ``related_codes`` (its lineage), registered and published by the catalog's
  ordinary workflow, its rows in the datastore;
- a **grade**: the highest of its sources' (an ungraded source counts as 一般数据 3 级), unless the
  base libraries' stewards review it down, with a reason, on the ledger;
- a **quality score** from the quality rules of its columns (``checks``), run after each build;
- a **refresh schedule** (``refresh_hours``): a periodic job rebuilds those due.

Every source read by a build is traced through sharing (``access.record_read``): a ledger entry
and an access-log row with the data subjects, on the basis it was read on — the own unit's
data, the platform admin's, the base libraries' keeping, or the owner unit's grant in force (the
grant's fields only, masked as the source's grade says). A source the builder may read on none
of these fails the build, naming the source.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import repository
from citybase.data.baselib.linkage import Kind
from citybase.data.baselib.models import ThemeBuild, ThemeLibrary
from citybase.data.baselib.schemas import (
    GradeReview,
    LineageNode,
    ThemeBuildRead,
    ThemeCreate,
    ThemeRead,
    ThemeSpec,
    ThemeUpdate,
)
from citybase.data.baselib.service import FIELD_LABELS, KEEPER_BASIS, is_steward
from citybase.data.catalog import service as catalog
from citybase.data.catalog.auth import CATALOG_EDIT
from citybase.data.catalog.schemas import (
    OpenType,
    ResourceCreate,
    ResourceFormat,
    ResourceRead,
    ResourceUpdate,
    Status,
    Transition,
    UpdateCycle,
)
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Level, ScanRequest
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.opendata import service as opendata
from citybase.data.quality import service as quality
from citybase.data.quality.schemas import RuleCreate, RuleKind
from citybase.data.review import service as normative
from citybase.data.sharing import access
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import ReadContext

THEME_BASIS = "主题库归集（主题库定义所列来源）"
UNGRADED = Level.general_3  # a source never graded counts as personal information
BUILD_PURPOSE = "主题库构建"


# --- who may -------------------------------------------------------------------------------------


def may_edit(principal: Principal, owner_unit: str) -> bool:
    """The platform's admins, and the owner unit's data stewards (who register its resources)."""
    if principal.has_role(Role.platform_admin):
        return True
    return (
        principal.unit_code == owner_unit
        and principal.has_role(Role.data_steward)
        and principal.can(CATALOG_EDIT)
    )


def _require_edit(principal: Principal, owner_unit: str) -> None:
    if not may_edit(principal, owner_unit):
        raise Forbidden(
            f"a theme library is defined and built by its owner unit ({owner_unit})'s data "
            "stewards",
            field="owner_unit",
        )


def visible(session: Session, principal: Principal | None, theme: ThemeLibrary) -> bool:
    """Anyone sees a theme library whose resource is open (published, open to the public); a
    signed-in user sees it where the catalog shows them its resource; the owner unit and the
    admins always."""
    resource = _resource(session, theme)
    if principal is None:
        return resource is not None and opendata.is_open(resource)
    if principal.has_role(Role.platform_admin) or principal.unit_code == theme.owner_unit_code:
        return True
    if resource is None:
        return False
    try:
        catalog.get_accessible_resource(session, principal, resource.code)
    except NotFound:
        return False
    return True


def _resource(session: Session, theme: ThemeLibrary) -> ResourceRead | None:
    if not theme.resource_code:
        return None
    try:
        return catalog.get_resource(session, theme.resource_code)
    except NotFound:
        return None


# --- the definition ------------------------------------------------------------------------------


def _loc(loc: tuple[int | str, ...]) -> str:
    out = "spec"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_spec(session: Session, raw: dict[str, Any] | str) -> ThemeSpec:
    """The definition checked: its shape (pydantic), then its meaning (sources exist, columns
    exist in them, joins point backwards). Every error names the field."""
    if isinstance(raw, str):
        try:
            raw = yaml.safe_load(raw) if raw.strip() else {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"not JSON or YAML: {exc}", field="spec") from exc
        if not isinstance(raw, dict):
            raise InvalidInput("the definition is a mapping of its fields", field="spec")
        for source in raw.get("sources") or []:  # YAML 1.1 reads a bare `on:` as true
            join = source.get("join") if isinstance(source, dict) else None
            if isinstance(join, dict) and True in join:
                join["on"] = join.pop(True)
    try:
        spec = ThemeSpec.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(
            err["msg"].removeprefix("Value error, "), field=_loc(err["loc"])
        ) from exc
    try:
        orgs.get_unit(session, spec.owner_unit)
    except NotFound as exc:
        raise InvalidInput(f"no unit {spec.owner_unit}", field="spec.owner_unit") from exc
    columns: dict[str, set[str]] = {}
    kinds: dict[str, Kind | None] = {}
    for n, source in enumerate(spec.sources):
        where = f"spec.sources[{n}]"
        if source.alias in columns:
            raise InvalidInput(f"alias {source.alias} is used twice", field=f"{where}.alias")
        if bool(source.resource) == bool(source.library):
            raise InvalidInput("name a resource or a library (one of them)", field=where)
        if source.resource:
            try:
                resource = catalog.get_resource(session, source.resource)
            except NotFound as exc:
                raise InvalidInput(f"no data resource {source.resource}",
                                   field=f"{where}.resource") from exc  # fmt: skip
            if resource.status not in (Status.registered, Status.published):
                raise InvalidInput(f"{source.resource} is {resource.status.value}: a theme "
                                   "library is built from registered resources",
                                   field=f"{where}.resource")  # fmt: skip
            columns[source.alias] = {i.name for i in resource.items}
            kinds[source.alias] = None
        else:
            assert source.library is not None
            known = FIELD_LABELS[source.library]
            if not source.fields:
                raise InvalidInput("name the library's fields used", field=f"{where}.fields")
            for f in source.fields:
                if f not in known:
                    raise InvalidInput(f"{f} is not a field of the {source.library.value} "
                                       f"library ({', '.join(known)})", field=f"{where}.fields")  # fmt: skip
            columns[source.alias] = set(source.fields)
            kinds[source.alias] = source.library
        if n == 0:
            if source.join is not None or not source.resource:
                raise InvalidInput("the first source is a resource, joined to nothing: its rows "
                                   "are the library's rows", field=where)  # fmt: skip
            continue
        join = source.join
        if join is None:
            raise InvalidInput("say how this source joins an earlier one", field=f"{where}.join")
        if join.to not in columns or join.to == source.alias:
            raise InvalidInput(f"{join.to} is not the alias of an earlier source",
                               field=f"{where}.join.to")  # fmt: skip
        if source.library and not join.entity:
            raise InvalidInput("a library joins through the file (entity: person|enterprise)",
                               field=f"{where}.join.entity")  # fmt: skip
        if join.entity:
            if source.library and join.entity is not source.library:
                raise InvalidInput(f"the {source.library.value} library joins through a "
                                   f"{source.library.value} file", field=f"{where}.join.entity")  # fmt: skip
            if kinds[join.to] is not None:
                raise InvalidInput("a file is joined to a resource's rows (the links name rows)",
                                   field=f"{where}.join.to")  # fmt: skip
            if join.on:
                raise InvalidInput("join by the file or by columns, not both",
                                   field=f"{where}.join.on")  # fmt: skip
        else:
            if not join.on:
                raise InvalidInput("name the columns to join on (earlier → this)",
                                   field=f"{where}.join.on")  # fmt: skip
            for left, right in join.on.items():
                if left not in columns[join.to]:
                    raise InvalidInput(f"{join.to} has no column {left}", field=f"{where}.join.on")
                if right not in columns[source.alias]:
                    raise InvalidInput(f"{source.alias} has no column {right}",
                                       field=f"{where}.join.on")  # fmt: skip

    def column(ref: str, where: str) -> None:
        alias, _, name = ref.partition(".")
        if alias not in columns:
            raise InvalidInput(f"{ref}: no source with alias {alias} (write alias.column)",
                               field=where)  # fmt: skip
        if name not in columns[alias]:
            raise InvalidInput(f"{ref}: {alias} has no column {name}", field=where)

    for n, flt in enumerate(spec.filters):
        column(flt.column, f"spec.filters[{n}].column")
        if flt.op in ("in", "not_in") and not isinstance(flt.value, list):
            raise InvalidInput("give a list of values", field=f"spec.filters[{n}].value")
        if flt.op not in ("not_empty",) and flt.value is None:
            raise InvalidInput("give the value to compare with", field=f"spec.filters[{n}].value")
    names: set[str] = set()
    registry = {e.name: e for e in normative.elements()}
    for n, col in enumerate(spec.columns):
        if col.name in names:
            raise InvalidInput(f"column {col.name} appears twice", field=f"spec.columns[{n}].name")
        names.add(col.name)
        column(col.source, f"spec.columns[{n}].source")
        if col.element:  # the normative review holds the catalog entry to the same registry
            element = registry.get(col.element)
            if element is None:
                raise InvalidInput(f"no data element {col.element} in the registry "
                                   f"({', '.join(registry)})", field=f"spec.columns[{n}].element")  # fmt: skip
            if element.data_type is not col.data_type:
                raise InvalidInput(f"{col.element} is {element.data_type.value}",
                                   field=f"spec.columns[{n}].data_type")  # fmt: skip
    return spec


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
        ctx=ReadContext(purpose=f"{BUILD_PURPOSE}：{theme.name}"), fields=sorted(used),
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
        legal_basis=basis, ctx=ReadContext(purpose=f"{BUILD_PURPOSE}：{theme.name}"),
        fields=fields, rows=len(values), subject_values=subjects, keys=keys,
    )  # fmt: skip
    return values, {
        "library": kind.value, "unit_code": settings.steward_unit, "rows": len(values),
        "legal_basis": basis, "access_id": access_id, "resources": sorted(origins),
    }, origins  # fmt: skip


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


# --- the catalog entry ---------------------------------------------------------------------------

CYCLES = ((24, UpdateCycle.daily), (24 * 7, UpdateCycle.weekly), (24 * 31, UpdateCycle.monthly),
          (24 * 92, UpdateCycle.quarterly))  # fmt: skip


def _cycle(hours: int) -> UpdateCycle:
    return next((c for limit, c in CYCLES if hours <= limit), UpdateCycle.yearly)


def _metadata(theme: ThemeLibrary, spec: ThemeSpec) -> dict[str, Any]:
    sources = [s.resource for s in spec.sources if s.resource]
    tags = list(dict.fromkeys([*spec.theme_tags, spec.name]))
    return {
        "name": spec.name, "abstract": spec.abstract, "format": ResourceFormat.database,
        "share_type": spec.share_type, "share_condition": spec.share_condition,
        "share_method": "库表", "open_type": spec.open_type,
        "open_condition": spec.open_condition or ("依申请开放" if spec.open_type is
                                                  OpenType.conditional else ""),
        "update_cycle": _cycle(spec.refresh_hours), "related_codes": sources,
        "keywords": list(dict.fromkeys([*spec.keywords, "主题库", theme.code])),
        "theme_tags": tags,
        "items": [{"name": c.name, "data_type": c.data_type, "length": c.length,
                   "meaning": c.meaning, "element": c.element} for c in spec.columns],
    }  # fmt: skip


def _register(session: Session, principal: Principal, theme: ThemeLibrary, spec: ThemeSpec) -> str:
    """The theme library's catalog resource: created (and submitted for review) the first time,
    its metadata kept in step with the definition afterwards (revised and resubmitted when a
    registered one changes)."""
    metadata = _metadata(theme, spec)
    resource = _resource(session, theme)
    if resource is None:
        created = catalog.create_resource(session, principal, ResourceCreate.model_validate(
            {**metadata, "classification": spec.classification, "provider_unit_code":
             spec.owner_unit}
        ))  # fmt: skip
        catalog.transition(session, principal, created.code, "submit",
                           Transition(reason="主题库登记"))  # fmt: skip
        return created.code
    current = resource.model_dump(mode="json", include={*metadata})
    wanted = ResourceUpdate.model_validate(metadata).model_dump(mode="json", exclude={"note"})
    if all(current.get(k) == v for k, v in wanted.items() if k in current):
        return resource.code
    if resource.status in (Status.registered, Status.published):
        catalog.transition(session, principal, resource.code, "revise",
                           Transition(reason="主题库定义变更"))  # fmt: skip
    elif resource.status is not Status.draft:
        raise Conflict(f"the catalog entry {resource.code} is under review "
                       f"({resource.status.value}): change the definition once it is decided",
                       field="spec")  # fmt: skip
    catalog.update_resource(session, principal, resource.code,
                            ResourceUpdate.model_validate({**metadata, "note": "主题库定义变更"}))  # fmt: skip
    catalog.transition(session, principal, resource.code, "submit",
                       Transition(reason="主题库定义变更"))  # fmt: skip
    return resource.code


# --- the verbs -----------------------------------------------------------------------------------


def _theme(session: Session, code: str) -> ThemeLibrary:
    theme = repository.theme_by_code(session, code)
    if theme is None:
        raise NotFound(f"no theme library {code}", field="code")
    return theme


def grade_in_force(theme: ThemeLibrary) -> str:
    return theme.reviewed_grade or theme.source_grade


def read_theme(session: Session, theme: ThemeLibrary) -> ThemeRead:
    resource = _resource(session, theme)
    spec = theme.spec
    nodes = [
        LineageNode(key=f"src:{s.get('alias')}", kind="library" if s.get("library") else "resource",
                    label=s.get("resource") or s.get("library") or "", href=(
                        f"/console/catalog/{s['resource']}" if s.get("resource") else
                        "/console/baselib"))
        for s in spec.get("sources", [])
    ]  # fmt: skip
    for node, source in zip(nodes, spec.get("sources", []), strict=True):
        if source.get("resource"):
            try:
                found = catalog.get_resource(session, source["resource"])
            except NotFound:
                continue
            node.label = f"{found.name}（{found.code}）"
            node.unit_code, node.level = (
                found.provider_unit_code,
                grading.level_of(session, found.code),
            )
        else:
            node.label = "一人一档" if source["library"] == "person" else "一企一档"
            node.unit_code = "基础库"
    nodes.append(LineageNode(
        key="theme", kind="theme", label=f"{theme.name}（{theme.resource_code or theme.code}）",
        unit_code=theme.owner_unit_code, level=grade_in_force(theme),
        href=f"/console/catalog/{theme.resource_code}" if theme.resource_code else "",
    ))  # fmt: skip
    read = ThemeRead.model_validate(theme)
    return read.model_copy(update={
        "grade": grade_in_force(theme), "lineage": nodes,
        "resource_status": resource.status.value if resource else "",
    })  # fmt: skip


def define_theme(session: Session, principal: Principal, data: ThemeCreate) -> ThemeRead:
    """A new theme library from its definition: checked, kept, registered in the catalog as a
    resource of its owner unit (submitted for the bureau's review), on the ledger."""
    if repository.theme_by_code(session, data.code) is not None:
        raise Conflict(f"theme library {data.code} exists", field="code")
    spec = parse_spec(session, data.spec)
    _require_edit(principal, spec.owner_unit)
    theme = ThemeLibrary(
        code=data.code, name=spec.name, owner_unit_code=spec.owner_unit,
        spec=spec.model_dump(mode="json", exclude_none=True), refresh_hours=spec.refresh_hours,
        built_by="",
    )  # fmt: skip
    repository.add(session, theme)
    theme.resource_code = _register(session, principal, theme, spec)
    _ensure_rules(session, principal, theme.resource_code, spec)
    session.flush()
    ledger.record(
        session, actor_of(principal), "baselib.theme.define", object_type="theme_library",
        object_id=theme.code, reason=spec.name,
        details={"owner": spec.owner_unit, "resource": theme.resource_code,
                 "sources": [s.resource or f"baselib:{s.library}" for s in spec.sources]},
    )  # fmt: skip
    return read_theme(session, theme)


def update_theme(session: Session, principal: Principal, code: str, data: ThemeUpdate) -> ThemeRead:
    """A new version of the definition (the owner unit cannot be handed on by a change)."""
    theme = _theme(session, code)
    _require_edit(principal, theme.owner_unit_code)
    spec = parse_spec(session, data.spec)
    if spec.owner_unit != theme.owner_unit_code:
        raise InvalidInput(f"the owner unit stays {theme.owner_unit_code}",
                           field="spec.owner_unit")  # fmt: skip
    theme.spec = spec.model_dump(mode="json", exclude_none=True)
    theme.name, theme.refresh_hours, theme.version = (
        spec.name,
        spec.refresh_hours,
        theme.version + 1,
    )
    theme.resource_code = _register(session, principal, theme, spec)
    _ensure_rules(session, principal, theme.resource_code, spec)
    theme.updated_at = datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), "baselib.theme.update", object_type="theme_library",
        object_id=theme.code, reason=spec.name, details={"version": theme.version},
    )  # fmt: skip
    return read_theme(session, theme)


def _ensure_rules(session: Session, principal: Principal, code: str, spec: ThemeSpec) -> None:
    have = {(r.item, r.kind.value) for r in quality.list_rules(session, principal, code)}
    for col in spec.columns:
        for check in col.checks:
            if (col.name, check) not in have:
                quality.add_rule(session, principal, code,
                                 RuleCreate(item=col.name, kind=RuleKind(check)))  # fmt: skip


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
    theme = _theme(session, code)
    _require_edit(principal, theme.owner_unit_code)
    now = datetime.now(UTC)
    build = ThemeBuild(theme_id=theme.id, version=theme.version, started_at=now,
                       built_by=principal.username, scheduled=scheduled, status="ok")  # fmt: skip
    savepoint = session.begin_nested()
    try:
        spec = parse_spec(session, theme.spec)
        made = make_rows(session, principal, theme, spec, keys, settings)
        theme.resource_code = _register(session, principal, theme, spec)
        datastore.load_rows(session, principal, theme.resource_code, made.rows,
                            f"theme:{theme.code} v{theme.version}")  # fmt: skip
        theme.source_grade = grade_of(made.levels)
        build.grade = _apply_grade(session, principal, theme, made.rows)
        _ensure_rules(session, principal, theme.resource_code, spec)
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


def review_grade(
    session: Session, principal: Principal, code: str, data: GradeReview, settings: BaselibSettings
) -> ThemeRead:
    """The base libraries' stewards grade a theme library below its sources' highest (the
    rows leave out what made a source sensitive), with a reason; an empty level withdraws it.
    Never the owner unit alone: it would be grading its own data down."""
    if not is_steward(principal, settings):
        raise Forbidden("a theme library's grade is reviewed by the base libraries' stewards",
                        field="level")  # fmt: skip
    theme = _theme(session, code)
    if data.level:
        try:
            level = Level(data.level)
        except ValueError as exc:
            raise InvalidInput(f"{data.level} is not a level ({', '.join(Level)})",
                               field="level") from exc  # fmt: skip
        source = Level(theme.source_grade) if theme.source_grade else None
        if source is not None and level.rank >= source.rank:
            raise InvalidInput(f"a review grades down: below {source.value}", field="level")
    theme.reviewed_grade, theme.review_reason = data.level, data.reason if data.level else ""
    if theme.resource_code and theme.last_built_at is not None:
        grading.decide(session, principal, theme.resource_code,
                       Decision(level=Level(grade_in_force(theme)), reason=data.reason))  # fmt: skip
    session.flush()
    ledger.record(
        session, actor_of(principal), "baselib.theme.grade", object_type="theme_library",
        object_id=theme.code, reason=data.reason,
        details={"level": data.level, "source_grade": theme.source_grade},
    )  # fmt: skip
    return read_theme(session, theme)


def list_themes(session: Session, principal: Principal | None) -> list[ThemeRead]:
    return [read_theme(session, t) for t in repository.themes(session)
            if visible(session, principal, t)]  # fmt: skip


def get_theme(session: Session, principal: Principal | None, code: str) -> ThemeRead:
    theme = repository.theme_by_code(session, code)
    if theme is None or not visible(session, principal, theme):
        raise NotFound(f"no theme library {code}", field="code")
    return read_theme(session, theme)


def builds_of(session: Session, principal: Principal | None, code: str) -> list[ThemeBuildRead]:
    get_theme(session, principal, code)
    theme = _theme(session, code)
    return [ThemeBuildRead.model_validate(b) for b in repository.theme_builds(session, theme.id)]


def spec_text(spec: dict[str, Any]) -> str:
    """The definition as the console shows and edits it (YAML, keys in their order)."""
    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)


def last_builder(session: Session, code: str) -> str:
    """Who last built a theme library by hand (a scheduled or command-line build acts as them)."""
    return _theme(session, code).built_by


def due(session: Session, now: datetime | None = None) -> list[str]:
    return [t.code for t in repository.themes_due(session, now or datetime.now(UTC))]


def build_due(
    session: Session, keys: ops.Keys, settings: BaselibSettings, now: datetime | None = None
) -> Iterator[ThemeBuildRead]:
    """The schedule: rebuild every library whose refresh is due, with the rights of whoever
    last built it by hand (a library never built by hand waits for its first build)."""
    from citybase.core.identity import service as identity

    for code in due(session, now):
        theme = _theme(session, code)
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


def as_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, ensure_ascii=False, indent=2)
