"""The data resource catalog: register, change, review, register and publish resources.

Every change of metadata makes a new version (a full snapshot, so any two can be compared), and
every change of state is on the ledger. A resource is edited only as a draft, by its own unit;
it is reviewed, registered and published by a data steward of another unit (no one approves their
own unit's resource), or by a platform admin.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core import clock, tables
from citybase.core.bus import service as bus
from citybase.core.errors import CitybaseError, Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal, Role
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.progress import FINISHED, Report, silent
from citybase.data.catalog import repository
from citybase.data.catalog.auth import CATALOG_EDIT, CATALOG_REVIEW
from citybase.data.catalog.models import DataResource, DataResourceVersion
from citybase.data.catalog.schemas import (
    BaseLibrary,
    Category,
    DataItemRead,
    DataType,
    FieldChange,
    ImportProblem,
    ImportReport,
    OpenType,
    ResourceChanged,
    ResourceCreate,
    ResourceFilter,
    ResourceFormat,
    ResourcePage,
    ResourceRead,
    ResourceSummary,
    ResourceUpdate,
    ShareType,
    Status,
    Transition,
    UpdateCycle,
    VersionDiff,
    VersionRead,
)

PUBLIC_STATES = (Status.registered.value, Status.published.value)
METADATA_FIELDS = (
    "name", "abstract", "format", "share_type", "share_condition", "share_method", "open_type",
    "open_condition", "update_cycle", "related_codes", "keywords", "theme_tags", "base_tags",
)  # fmt: skip

# state machine: action → (states it starts from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "submit": (frozenset({Status.draft}), Status.submitted),
    "return": (frozenset({Status.submitted, Status.reviewed}), Status.draft),
    "approve": (frozenset({Status.submitted}), Status.reviewed),
    "register": (frozenset({Status.reviewed}), Status.registered),
    "publish": (frozenset({Status.registered}), Status.published),
    "revise": (frozenset({Status.registered, Status.published}), Status.draft),
}
# who may take each action: the provider unit, or a reviewer from another unit
BY_PROVIDER = frozenset({"submit", "revise"})

Check = Callable[[Session, Principal, ResourceRead], None]
_checks: dict[str, list[Check]] = {}


def register_check(action: str, check: Check) -> None:
    """Let another domain veto a step (the normative review vetoes ``approve``): the check raises
    a ``CitybaseError`` to refuse. The catalog need not know who checks."""
    if check not in _checks.setdefault(action, []):
        _checks[action].append(check)


def _is_admin(principal: Principal) -> bool:
    return principal.has_role(Role.platform_admin)


def _read(session: Session, resources: list[DataResource]) -> list[ResourceRead]:
    items = repository.items_of(session, [r.id for r in resources])
    units = orgs.unit_names(session, {r.provider_unit_code for r in resources})
    result = []
    for r in resources:
        result.append(
            ResourceRead(
                id=r.id,
                code=r.code,
                classification=f"{r.category}{r.item_code}{r.detail_code}{r.sub_detail}",
                category=Category(r.category),
                provider_unit_code=r.provider_unit_code,
                provider_unit_name=units.get(r.provider_unit_code, r.provider_unit_code),
                region_code=r.region_code,
                status=Status(r.status),
                version=r.version,
                publish_date=r.publish_date,
                created_at=r.created_at,
                updated_at=r.updated_at,
                items=[DataItemRead.model_validate(i) for i in items[r.id]],
                **{f: getattr(r, f) for f in METADATA_FIELDS},
            )
        )
    return result


def _snapshot(read: ResourceRead) -> dict[str, Any]:
    return read.model_dump(
        mode="json", include={"code", "classification", "provider_unit_code", "status", "items",
                              *METADATA_FIELDS},
    )  # fmt: skip


def _record_version(
    session: Session, resource: DataResource, principal: Principal, note: str
) -> ResourceRead:
    read = _read(session, [resource])[0]
    repository.add(
        session,
        DataResourceVersion(
            resource_id=resource.id,
            version=resource.version,
            snapshot=_snapshot(read),
            changed_by=principal.username,
            changed_at=datetime.now(UTC),
            note=note,
        ),
    )
    return read


# --- reads -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """What part of the catalog a principal sees (other domains filter their own tables by it)."""

    everything: bool
    unit_code: str
    reviewer: bool

    def sees(self, status: str, unit_code: str) -> bool:
        return (
            self.everything
            or status in PUBLIC_STATES
            or unit_code == self.unit_code
            or (self.reviewer and status != Status.draft.value)
        )


def audience(principal: Principal) -> Audience:
    return Audience(_is_admin(principal), principal.unit_code, principal.can(CATALOG_REVIEW))


def _visible(principal: Principal) -> Any:
    return repository.visibility(
        principal.unit_code,
        everything=_is_admin(principal),
        reviewer=principal.can(CATALOG_REVIEW),
        public_states=PUBLIC_STATES,
    )


def get_accessible_resources(
    session: Session, principal: Principal, flt: ResourceFilter
) -> ResourcePage:
    """The resources the principal may see, filtered. A region's catalog includes its
    sub-regions' (district catalogs roll up into the city's) unless ``subregions`` is off."""
    regions = None
    if flt.region:
        regions = orgs.descendant_codes(session, flt.region) if flt.subregions else {flt.region}
    rows, total = repository.find(session, flt, visible=_visible(principal), region_codes=regions)
    return ResourcePage(
        total=total,
        resources=[
            ResourceSummary(
                code=r.code, name=r.name, provider_unit_code=r.provider_unit_code,
                region_code=r.region_code, share_type=r.share_type, open_type=r.open_type,
                status=r.status, version=r.version, updated_at=r.updated_at,
            )
            for r in rows
        ],
    )  # fmt: skip


def resources_by_region(session: Session, principal: Principal) -> dict[str, int]:
    """region code → how many resources the principal may see it catalogues (for the map)."""
    return repository.count_by_region(session, visible=_visible(principal))


def work_queue(session: Session, principal: Principal) -> dict[str, list[ResourceSummary]]:
    """What waits for the principal, by the action it waits for: other units' resources to
    approve, register or publish (for reviewers), and the own unit's drafts (for editors)."""
    waiting: dict[str, list[ResourceSummary]] = {}
    if principal.can(CATALOG_REVIEW):
        for action, state in (("approve", Status.submitted), ("register", Status.reviewed),
                              ("publish", Status.registered)):  # fmt: skip
            page = get_accessible_resources(
                session, principal, ResourceFilter(status=state, limit=500)
            )
            waiting[action] = [
                r for r in page.resources
                if _is_admin(principal) or r.provider_unit_code != principal.unit_code
            ]  # fmt: skip
    if principal.can(CATALOG_EDIT) and principal.unit_code:
        page = get_accessible_resources(
            session, principal,
            ResourceFilter(status=Status.draft, unit=principal.unit_code, limit=500),
        )  # fmt: skip
        waiting["submit"] = page.resources
    return waiting


def _get_visible(session: Session, principal: Principal, code: str) -> DataResource:
    resource = repository.get_by_code(session, code)
    if resource is None or not _can_see(principal, resource):
        raise NotFound(f"no data resource {code}", field="code")
    return resource


def _can_see(principal: Principal, resource: DataResource) -> bool:
    return audience(principal).sees(resource.status, resource.provider_unit_code)


def get_accessible_resource(session: Session, principal: Principal, code: str) -> ResourceRead:
    return _read(session, [_get_visible(session, principal, code)])[0]


def get_resource(session: Session, code: str) -> ResourceRead:
    """A resource with no access check: for the platform's own work (event consumers, reports
    run by the system), never to answer a request."""
    resource = repository.get_by_code(session, code)
    if resource is None:
        raise NotFound(f"no data resource {code}", field="code")
    return _read(session, [resource])[0]


def resource_names(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """Resource code → name, for pages that show resources by name (codes not found are left
    out: the page shows the code)."""
    return repository.names(session, codes)


def all_codes(session: Session) -> list[str]:
    """Every resource's code, in any state (for rebuilding indexes)."""
    return repository.all_codes(session)


def registered_resources(session: Session) -> list[ResourceRead]:
    """Every registered or published resource, with no access check (as ``get_resource``)."""
    return _read(session, repository.in_states(session, PUBLIC_STATES))


def versions(session: Session, principal: Principal, code: str) -> list[VersionRead]:
    resource = _get_visible(session, principal, code)
    return [
        VersionRead(
            version=v.version, changed_by=v.changed_by, changed_at=v.changed_at, note=v.note
        )
        for v in repository.versions(session, resource.id)
    ]


def diff(
    session: Session, principal: Principal, code: str, from_version: int, to_version: int
) -> VersionDiff:
    """What changed between two versions: metadata fields, and data items by name."""
    resource = _get_visible(session, principal, code)
    snapshots = {}
    for number, field in ((from_version, "from"), (to_version, "to")):
        found = repository.version(session, resource.id, number)
        if found is None:
            raise NotFound(f"{code} has no version {number}", field=field)
        snapshots[field] = found.snapshot
    before, after = snapshots["from"], snapshots["to"]
    changes = [
        FieldChange(field=f, before=before.get(f), after=after.get(f))
        for f in ("classification", *METADATA_FIELDS)
        if before.get(f) != after.get(f)
    ]
    old_items = {i["name"]: i for i in before.get("items", [])}
    new_items = {i["name"]: i for i in after.get("items", [])}
    return VersionDiff(
        code=code,
        from_version=from_version,
        to_version=to_version,
        changes=changes,
        items_added=[n for n in new_items if n not in old_items],
        items_removed=[n for n in old_items if n not in new_items],
        items_changed=[
            FieldChange(field=n, before=old_items[n], after=new_items[n])
            for n in new_items
            if n in old_items and old_items[n] != new_items[n]
        ],
    )


# --- writes ------------------------------------------------------------------------------------


def check_own_unit(principal: Principal, unit_code: str) -> None:
    """Refuse unless the principal may change the given unit's resources."""
    _check_own_unit(principal, unit_code)


def _check_own_unit(principal: Principal, unit_code: str) -> None:
    if not principal.can(CATALOG_EDIT):
        raise Forbidden(f"this needs the permission {CATALOG_EDIT}", field="permission")
    if not _is_admin(principal) and principal.unit_code != unit_code:
        raise Forbidden(
            "a resource is registered and changed by its own provider unit",
            field="provider_unit_code",
        )


def create_resource(session: Session, principal: Principal, data: ResourceCreate) -> ResourceRead:
    """Register a new resource as a draft (version 1)."""
    try:
        unit = orgs.get_unit(session, data.provider_unit_code)
    except NotFound as exc:
        raise InvalidInput(
            f"unit {data.provider_unit_code} does not exist", field="provider_unit_code"
        ) from exc
    _check_own_unit(principal, unit.code)
    classification = data.classification
    sequence = repository.next_sequence(session, classification)
    resource = DataResource(
        code=f"{classification}-{sequence:06d}",
        category=classification[0],
        item_code=classification[1:3],
        detail_code=classification[3:6],
        sub_detail=classification[6:],
        provider_unit_code=unit.code,
        region_code=unit.region_code,
        status=Status.draft.value,
        version=1,
        **_metadata_values(data.model_dump(include=set(METADATA_FIELDS))),
    )
    repository.add(session, resource)
    repository.replace_items(session, resource.id, [i.model_dump() for i in data.items])
    read = _record_version(session, resource, principal, "registered as a draft")
    ledger.record(
        session, actor_of(principal), "catalog.resource.create", object_type="data_resource",
        object_id=resource.code, details={"name": resource.name, "unit": unit.code},
    )  # fmt: skip
    _publish(session, resource, "created")
    return read


def _metadata_values(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()} | {
        "base_tags": [getattr(b, "value", b) for b in values.get("base_tags", [])]
    }


def update_resource(
    session: Session, principal: Principal, code: str, data: ResourceUpdate
) -> ResourceRead:
    """Change a draft; the change becomes a new version."""
    resource = _get_visible(session, principal, code)
    _check_own_unit(principal, resource.provider_unit_code)
    if resource.status != Status.draft.value:
        raise Conflict(
            f"only a draft can be changed; {code} is {resource.status} (revise it first)",
            field="status",
        )
    current = _read(session, [resource])[0]
    merged = current.model_dump(include={*METADATA_FIELDS, "items"})
    merged.update(data.model_dump(exclude_unset=True, exclude={"note"}))
    # validate the whole resource as it would be, so that cross-field rules still hold
    try:
        checked = ResourceCreate.model_validate(
            {
                **merged,
                "classification": current.classification,
                "provider_unit_code": resource.provider_unit_code,
            }
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidInput(
            err["msg"].removeprefix("Value error, "),
            field=".".join(str(p) for p in err["loc"]) or "body",
        ) from exc
    values = _metadata_values(checked.model_dump(include=set(METADATA_FIELDS)))
    changed = [f for f in METADATA_FIELDS if getattr(resource, f) != values[f]]
    new_items = [i.model_dump(mode="json") for i in checked.items]
    items_changed = new_items != [i.model_dump(mode="json") for i in current.items]
    if not changed and not items_changed:
        return current
    for field in changed:
        setattr(resource, field, values[field])
    if items_changed:
        repository.replace_items(session, resource.id, [i.model_dump() for i in checked.items])
    resource.version += 1
    resource.updated_at = datetime.now(UTC)
    session.flush()
    read = _record_version(session, resource, principal, data.note)
    ledger.record(
        session, actor_of(principal), "catalog.resource.update", object_type="data_resource",
        object_id=code, reason=data.note,
        details={"version": resource.version, "fields": changed + (["items"] if items_changed else [])},
    )  # fmt: skip
    _publish(session, resource, "updated")
    return read


def transition(
    session: Session, principal: Principal, code: str, action: str, data: Transition
) -> ResourceRead:
    """Move a resource along the registration workflow, with who did it on the ledger."""
    if action not in TRANSITIONS:
        raise NotFound(f"no action {action}", field="action")
    resource = _get_visible(session, principal, code)
    starts, target = TRANSITIONS[action]
    if Status(resource.status) not in starts:
        allowed = ", ".join(
            sorted(a for a, (s, _) in TRANSITIONS.items() if Status(resource.status) in s)
        )
        raise Conflict(
            f"{code} is {resource.status}: it cannot be {action}ed now (possible: {allowed or 'none'})",
            field="status",
        )
    if action in BY_PROVIDER:
        _check_own_unit(principal, resource.provider_unit_code)
    else:
        if not principal.can(CATALOG_REVIEW):
            raise Forbidden(f"this needs the permission {CATALOG_REVIEW}", field="permission")
        if not _is_admin(principal) and principal.unit_code == resource.provider_unit_code:
            raise Forbidden("a unit does not review its own resources", field="provider_unit_code")
    if action == "return" and not data.reason.strip():
        raise InvalidInput("say why the resource is returned", field="reason")
    current = _read(session, [resource])[0]
    for check in _checks.get(action, []):
        check(session, principal, current)
    resource.status = target.value
    if action == "publish":
        resource.publish_date = clock.today()  # the city's day
    resource.updated_at = datetime.now(UTC)
    session.flush()
    ledger.record(
        session, actor_of(principal), f"catalog.resource.{action}", object_type="data_resource",
        object_id=code, reason=data.reason, details={"status": target.value},
    )  # fmt: skip
    _publish(session, resource, action)
    return _read(session, [resource])[0]


def _publish(session: Session, resource: DataResource, what: str) -> None:
    bus.publish(
        session,
        ResourceChanged(
            code=resource.code, status=resource.status, version=resource.version, what=what
        ),
    )


def status_counts(session: Session) -> dict[str, int]:
    return repository.count_by_status(session)


# --- bulk registration -------------------------------------------------------------------------

# column headers, in English or as the catalog's Chinese labels
HEADERS = {
    "分类码": "classification", "提供单位": "provider_unit_code", "资源名称": "name",
    "摘要": "abstract", "资源格式": "format", "共享类型": "share_type", "共享条件": "share_condition",
    "共享方式": "share_method", "开放类型": "open_type", "开放条件": "open_condition",
    "更新周期": "update_cycle", "关联资源代码": "related_codes", "关键词": "keywords",
    "主题库": "theme_tags", "基础库": "base_tags", "信息项": "items",
    "信息项名称": "name", "数据类型": "data_type", "长度": "length", "含义": "meaning",
    "数据元": "element", "资源": "resource",
}  # fmt: skip
LIST_FIELDS = ("related_codes", "keywords", "theme_tags", "base_tags")


def _labels() -> dict[str, str]:
    """Chinese labels of enum values, back to the values (无条件共享 → unconditional)."""

    zh = {
        "无条件共享": ShareType.unconditional, "有条件共享": ShareType.conditional, "不予共享": ShareType.none,
        "无条件开放": OpenType.unconditional, "有条件开放": OpenType.conditional, "不予开放": OpenType.none,
        "实时": UpdateCycle.realtime, "每日": UpdateCycle.daily, "每周": UpdateCycle.weekly,
        "每月": UpdateCycle.monthly, "每季度": UpdateCycle.quarterly, "每年": UpdateCycle.yearly,
        "不定期": UpdateCycle.irregular, "数据库": ResourceFormat.database,
        "电子表格": ResourceFormat.spreadsheet, "电子文件": ResourceFormat.document,
        "图形图像": ResourceFormat.image, "流媒体": ResourceFormat.stream, "接口": ResourceFormat.api,
        "字符型": DataType.string, "整数型": DataType.integer, "数值型": DataType.decimal,
        "日期型": DataType.date, "日期时间型": DataType.datetime, "布尔型": DataType.boolean,
        "二进制": DataType.binary, "人口": BaseLibrary.population, "法人": BaseLibrary.legal_person,
        "自然资源和空间地理": BaseLibrary.geo, "社会信用": BaseLibrary.credit,
        "电子证照": BaseLibrary.license,
    }  # fmt: skip
    return {k: v.value for k, v in zh.items()}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_sheets(filename: str, content: bytes) -> dict[str, list[dict[str, str]]]:
    """``{"resources": rows, "items": rows}`` with English keys, from XLSX or CSV."""
    sheets: dict[str, list[dict[str, str]]] = {}
    for title, raw in tables.read_sheets(filename, content).items():
        key = {"资源": "resources", "信息项": "items", tables.CSV_SHEET: "resources"}.get(
            title, title.lower()
        )
        rows = [[_cell(c) for c in row] for row in raw]
        if rows:
            header = [HEADERS.get(h, h) for h in rows[0]]
            sheets[key] = [dict(zip(header, r, strict=False)) for r in rows[1:]]
    if "resources" not in sheets:
        raise InvalidInput("the workbook needs a sheet named 资源 (or resources)", field="file")
    return {"resources": sheets["resources"], "items": sheets.get("items", [])}


IMPORT_CHECK, IMPORT_REGISTER = "checking the rows", "registering the resources"


def import_resources(
    session: Session,
    principal: Principal,
    filename: str,
    content: bytes,
    *,
    dry_run: bool = False,
    progress: Report = silent,
) -> ImportReport:
    """Register many resources as drafts from a spreadsheet. Any bad row: nothing is registered,
    and the report names each row and cell at fault.

    XLSX: a sheet 资源 (one resource a row) and a sheet 信息项 (one item a row, its 资源 column
    holding the resource's name). CSV: one resource a row, the items in an 信息项 column as
    ``name|type|length|meaning|element`` separated by ``;``.
    """
    sheets = _read_sheets(filename, content)
    labels = _labels()
    items_by_resource: dict[str, list[dict[str, Any]]] = {}
    for item in sheets["items"]:
        items_by_resource.setdefault(item.get("resource", ""), []).append(item)
    report = ImportReport(rows=len(sheets["resources"]))
    parsed: list[tuple[int, ResourceCreate]] = []
    total = 2 * len(sheets["resources"])  # each row checked, then registered
    for number, row in enumerate(sheets["resources"], start=2):
        progress(number - 2, total, IMPORT_CHECK)
        data: dict[str, Any] = {k: labels.get(v, v) for k, v in row.items() if k and k != "items"}
        for key in LIST_FIELDS:
            data[key] = [
                labels.get(p.strip(), p.strip())
                for p in re.split(r"[,，;；、]", data.get(key, ""))
                if p.strip()
            ]
        if row.get("items"):
            data["items"] = [
                dict(zip(("name", "data_type", "length", "meaning", "element"),
                         [p.strip() for p in part.split("|")], strict=False))
                for part in row["items"].split(";") if part.strip()
            ]  # fmt: skip
        else:
            data["items"] = [
                {k: labels.get(v, v) for k, v in i.items() if k != "resource"}
                for i in items_by_resource.get(row.get("name", ""), [])
            ]
        for item in data["items"]:
            item["data_type"] = labels.get(item.get("data_type", ""), item.get("data_type", ""))
            item["length"] = item.get("length") or None
        try:
            parsed.append((number, ResourceCreate.model_validate(data)))
        except ValidationError as exc:
            for err in exc.errors():
                column = ".".join(str(p) for p in err["loc"]) or "row"
                report.problems.append(
                    ImportProblem(sheet="资源", row=number, column=column,
                                  message=err["msg"].removeprefix("Value error, "))
                )  # fmt: skip
    names = [d.name for _, d in parsed]
    for number, d in parsed:
        if names.count(d.name) > 1:
            report.problems.append(ImportProblem(sheet="资源", row=number, column="name", message=f"{d.name} appears more than once in the file"))  # fmt: skip
    if report.problems:
        progress(total, total, FINISHED)
        return report
    savepoint = session.begin_nested()
    try:
        for n, (number, d) in enumerate(parsed):
            progress(len(parsed) + n, total, IMPORT_REGISTER)
            try:
                report.created.append(create_resource(session, principal, d).code)
            except CitybaseError as exc:
                report.problems.append(
                    ImportProblem(
                        sheet="资源", row=number, column=exc.field or "row", message=exc.message
                    )
                )
    except BaseException:
        savepoint.rollback()
        raise
    if report.problems or dry_run:
        savepoint.rollback()
        if report.problems:
            report.created = []
        progress(total, total, FINISHED)
        return report
    savepoint.commit()
    report.applied = True
    ledger.record(
        session, actor_of(principal), "catalog.resource.import", object_type="data_resource",
        object_id=filename[:120], details={"created": report.created},
    )  # fmt: skip
    progress(total, total, FINISHED)
    return report
