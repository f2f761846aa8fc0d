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

This module holds the definition, its catalog entry, visibility and the grade review; building
(reading the sources, making the rows, grading, scoring, the schedule) is ``theme_builds.py``.

Every source read by a build is traced through sharing (``access.record_read``): a ledger entry
and an access-log row with the data subjects, on the basis it was read on — the own unit's
data, the platform admin's, the base libraries' keeping, or the owner unit's grant in force (the
grant's fields only, masked as the source's grade says). A source the builder may read on none
of these fails the build, naming the source.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import BaselibSettings
from citybase.data.baselib import repository
from citybase.data.baselib.linkage import Kind
from citybase.data.baselib.models import ThemeLibrary
from citybase.data.baselib.schemas import (
    GradeReview,
    LineageNode,
    ThemeBuildRead,
    ThemeCreate,
    ThemeRead,
    ThemeSpec,
    ThemeUpdate,
)
from citybase.data.baselib.service import FIELD_LABELS, is_steward
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
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Level
from citybase.data.opendata import service as opendata
from citybase.data.quality import service as quality
from citybase.data.quality.schemas import RuleCreate, RuleKind
from citybase.data.review import service as normative

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


def require_edit(principal: Principal, owner_unit: str) -> None:
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


def register_entry(
    session: Session, principal: Principal, theme: ThemeLibrary, spec: ThemeSpec
) -> str:
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


def theme_of(session: Session, code: str) -> ThemeLibrary:
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
    require_edit(principal, spec.owner_unit)
    theme = ThemeLibrary(
        code=data.code, name=spec.name, owner_unit_code=spec.owner_unit,
        spec=spec.model_dump(mode="json", exclude_none=True), refresh_hours=spec.refresh_hours,
        built_by="",
    )  # fmt: skip
    repository.add(session, theme)
    theme.resource_code = register_entry(session, principal, theme, spec)
    ensure_rules(session, principal, theme.resource_code, spec)
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
    theme = theme_of(session, code)
    require_edit(principal, theme.owner_unit_code)
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
    theme.resource_code = register_entry(session, principal, theme, spec)
    ensure_rules(session, principal, theme.resource_code, spec)
    theme.updated_at = datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), "baselib.theme.update", object_type="theme_library",
        object_id=theme.code, reason=spec.name, details={"version": theme.version},
    )  # fmt: skip
    return read_theme(session, theme)


def ensure_rules(session: Session, principal: Principal, code: str, spec: ThemeSpec) -> None:
    have = {(r.item, r.kind.value) for r in quality.list_rules(session, principal, code)}
    for col in spec.columns:
        for check in col.checks:
            if (col.name, check) not in have:
                quality.add_rule(session, principal, code,
                                 RuleCreate(item=col.name, kind=RuleKind(check)))  # fmt: skip


def review_grade(
    session: Session, principal: Principal, code: str, data: GradeReview, settings: BaselibSettings
) -> ThemeRead:
    """The base libraries' stewards grade a theme library below its sources' highest (the
    rows leave out what made a source sensitive), with a reason; an empty level withdraws it.
    Never the owner unit alone: it would be grading its own data down."""
    if not is_steward(principal, settings):
        raise Forbidden("a theme library's grade is reviewed by the base libraries' stewards",
                        field="level")  # fmt: skip
    theme = theme_of(session, code)
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
    theme = theme_of(session, code)
    return [ThemeBuildRead.model_validate(b) for b in repository.theme_builds(session, theme.id)]


def spec_text(spec: dict[str, Any]) -> str:
    """The definition as the console shows and edits it (YAML, keys in their order)."""
    return yaml.safe_dump(spec, allow_unicode=True, sort_keys=False)
