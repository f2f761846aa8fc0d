"""Console pages: browse the catalog, a resource's page, the registration form, the workflow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.errors import CitybaseError, Conflict
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import RawForm, SubmittedForm, form_errors, undo
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.maps import MapView, Outlines
from citybase.core.web.once import FIELD, FormOnce, FormToken, claim
from citybase.core.web.params import Page
from citybase.core.web.templating import NavEntry, Waiting, console
from citybase.data.catalog import service
from citybase.data.catalog.auth import (
    CATALOG_EDIT,
    CATALOG_READ,
    CATALOG_REVIEW,
    CatalogEditor,
    CatalogReader,
)
from citybase.data.catalog.schemas import (
    BaseLibrary,
    DataType,
    OpenType,
    ResourceCreate,
    ResourceFilter,
    ResourceFormat,
    ResourceUpdate,
    ShareType,
    Status,
    Transition,
    UpdateCycle,
)

router = APIRouter(include_in_schema=False)
PANELS = "catalog.resource"  # other domains add their sections to a resource's page


console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Resource catalog", "/console/catalog", CATALOG_READ, order=10))
console.add_page(
    NavEntry("Data", "Register a resource", "/console/catalog/new", CATALOG_EDIT, order=11)
)
console.add_page(NavEntry("Data", "Work queue", "/console/catalog/queue", CATALOG_EDIT, order=12))

LABELS_ZH = {
    # share and open types
    "share.unconditional": "无条件共享", "share.conditional": "有条件共享", "share.none": "不予共享",
    "open.unconditional": "无条件开放", "open.conditional": "有条件开放", "open.none": "不予开放",
    # states and actions
    "status.draft": "草稿", "status.submitted": "已提交", "status.reviewed": "已审核",
    "status.registered": "已登记", "status.published": "已发布",
    "review.submit": "提交审核", "review.approve": "审核通过", "review.return": "退回修改",
    "review.register": "登记", "review.publish": "发布", "review.revise": "修订",
    # update cycles, formats, data types, base libraries
    "cycle.realtime": "实时", "cycle.daily": "每日", "cycle.weekly": "每周", "cycle.monthly": "每月",
    "cycle.quarterly": "每季度", "cycle.yearly": "每年", "cycle.irregular": "不定期",
    "format.database": "数据库", "format.spreadsheet": "电子表格", "format.document": "电子文件",
    "format.image": "图形图像", "format.stream": "流媒体", "format.api": "接口",
    "type.string": "字符型", "type.integer": "整数型", "type.decimal": "数值型", "type.date": "日期型",
    "type.datetime": "日期时间型", "type.boolean": "布尔型", "type.binary": "二进制",
    "base.population": "人口", "base.legal_person": "法人", "base.geo": "自然资源和空间地理",
    "base.credit": "社会信用", "base.license": "电子证照",
    "category.1": "基础信息资源", "category.2": "主题信息资源", "category.3": "部门信息资源",
}  # fmt: skip
LABELS_EN = {
    **{f"share.{k}": f"{k} sharing" for k in ("unconditional", "conditional", "none")},
    **{f"open.{k}": f"{k} opening" for k in ("unconditional", "conditional", "none")},
    **{f"status.{s.value}": s.value for s in Status},
    **{f"review.{a}": a for a in service.TRANSITIONS},
    **{f"cycle.{c.value}": c.value for c in UpdateCycle},
    **{f"format.{f.value}": f.value for f in ResourceFormat},
    **{f"type.{t.value}": t.value for t in DataType},
    **{f"base.{b.value}": b.value.replace("_", " ") for b in BaseLibrary},
    "category.1": "base resource", "category.2": "theme resource", "category.3": "department resource",
    "queue.approve": "to approve", "queue.register": "to register", "queue.publish": "to publish",
    "queue.submit": "own drafts (to submit)",
}  # fmt: skip
add_translations("zh", LABELS_ZH)
# the catalog's own fields, as the form names them (the version diff shows them by these)
add_field_labels({
    "related_codes": "Related resources", "theme_tags": "Theme libraries",
    "base_tags": "Base libraries",
})  # fmt: skip
add_translations("en", LABELS_EN)
add_translations(
    "zh",
    {
        "Resource catalog": "数据资源目录",
        "Work queue": "待办队列",
        "queue.approve": "待审核",
        "queue.register": "待登记",
        "queue.publish": "待发布",
        "queue.submit": "本单位草稿（待提交）",
        "Nothing waits.": "暂无待办。",
        "Register a resource": "资源登记",
        "Edit the draft": "编辑草稿",
        "Resource code": "资源代码",
        "Classification code": "分类码",
        "Provider unit": "提供单位",
        "Abstract": "摘要",
        "Format": "资源格式",
        "Share type": "共享类型",
        "Share condition": "共享条件",
        "Share method": "共享方式",
        "Open type": "开放类型",
        "Open condition": "开放条件",
        "Update cycle": "更新周期",
        "Publish date": "发布日期",
        "Related resources": "关联资源代码",
        "Keywords": "关键词",
        "Theme libraries": "主题库",
        "Base libraries": "基础库",
        "Data items": "信息项",
        "Data type": "数据类型",
        "Length": "长度",
        "Meaning": "含义",
        "Data element": "数据元",
        "Version": "版本",
        "Versions": "版本记录",
        "Changed by": "修改人",
        "Note": "说明",
        "Compare with the previous version": "与上一版本比较",
        "Changes from version {a} to {b}": "版本 {a} 至 {b} 的变化",
        "Items added": "新增信息项",
        "Items removed": "删除信息项",
        "Items changed": "修改信息项",
        "Before": "修改前",
        "After": "修改后",
        "No changes.": "没有变化。",
        "History": "办理记录",
        "Reason (needed to return)": "理由（退回时必填）",
        "No resources match.": "没有符合条件的资源。",
        "Include sub-regions": "包含下级区划",
        "One item per line: name | type | length | meaning | data element": "每行一个信息项：名称 | 类型 | 长度 | 含义 | 数据元",
        "Separate with commas": "用逗号分隔",
        "Why it changed": "修改说明",
        "Resource category": "门类",
        "Classification and grading": "分类分级",
        "Normative review": "规范性审查",
        "Bulk registration": "批量登记",
        "Sheet": "工作表",
        "Column": "列",
        "File (XLSX or CSV)": "文件（XLSX 或 CSV）",
        "Nothing was registered: fix these cells and try again.": "未登记任何资源：请修正以下单元格后重试。",
        "Registered as drafts:": "已登记为草稿：",
        "The file is good; these resources would be registered.": "文件无误，将登记以下数量的资源。",
    },
)


def _label_choices() -> dict[str, Any]:
    return {
        "formats": [f.value for f in ResourceFormat],
        "share_types": [s.value for s in ShareType],
        "open_types": [o.value for o in OpenType],
        "cycles": [c.value for c in UpdateCycle],
        "bases": [b.value for b in BaseLibrary],
        "statuses": [s.value for s in Status],
        "types": [t.value for t in DataType],
    }


def _split(value: Any) -> list[str]:
    text = " ".join(value) if isinstance(value, list) else str(value or "")
    return [p.strip() for p in text.replace("，", ",").split(",") if p.strip()]


def _items(text: str) -> list[dict[str, Any]]:
    """`name | type | length | meaning | element`, one per line; type may be given in Chinese."""
    by_label = {v: k.split(".", 1)[1] for k, v in LABELS_ZH.items() if k.startswith("type.")}
    items = []
    for line in str(text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("｜", "|").split("|")] + [""] * 4
        items.append(
            {
                "name": parts[0],
                "data_type": by_label.get(parts[1], parts[1]),
                "length": parts[2] or None,
                "meaning": parts[3],
                "element": parts[4],
            }
        )
    return items


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    bases = values.get("base_tags", [])
    return {
        **{k: v for k, v in values.items() if k not in {"items_text", "base_tags"}},
        "keywords": _split(values.get("keywords")),
        "theme_tags": _split(values.get("theme_tags")),
        "related_codes": _split(values.get("related_codes")),
        "base_tags": bases if isinstance(bases, list) else [bases] if bases else [],
        "items": _items(values.get("items_text", "")),
    }


def _items_text(items: list[Any]) -> str:
    return "\n".join(
        " | ".join([i.name, i.data_type.value, str(i.length or ""), i.meaning, i.element])
        for i in items
    )


def _form(
    request: Request, session: DbSession, principal: Any, *, resource: Any, values: dict[str, Any],
    errors: dict[str, str], status: int = 200,
) -> Response:  # fmt: skip
    units = [u for u in orgs.list_units(session, active=True)]
    if not principal.has_role("platform_admin"):
        units = [u for u in units if u.code == principal.unit_code]
    return console.render(
        request,
        "catalog/form.html",
        {"resource": resource, "values": values, "errors": errors, "units": units,
         **_label_choices()},
        status,
    )  # fmt: skip


@router.get("/console/catalog/queue")
def queue_page(request: Request, session: DbSession, principal: CatalogReader) -> Response:
    return console.render(
        request, "catalog/queue.html", {"queue": service.work_queue(session, principal)}
    )


def _catalog_map(counts: dict[str, int]) -> MapView:
    """The districts' own catalogs by how many resources each holds (the city's catalog, the
    largest, is the outline around them)."""
    heat = {code: n for code, n in counts.items() if len(code) == 6 and not code.endswith("00")}
    return MapView("catalog-map", "Data sets by district",
                   [Outlines("districts", "Data sets by district", "level=district", pick=True,
                             heat=heat)], heat_label="Data sets")  # fmt: skip


@router.get("/console/catalog")
def catalog_page(
    request: Request,
    session: DbSession,
    principal: CatalogReader,
    q: str = "",
    unit: str = "",
    region: str = "",
    status: str = "",
    share_type: str = "",
    open_type: str = "",
    base: str = "",
    page: Page = 1,
) -> Response:
    page = max(page, 1)
    query = {"q": q, "unit": unit, "region": region, "status": status, "share_type": share_type,
             "open_type": open_type, "base": base}  # fmt: skip
    flt = ResourceFilter.model_validate(
        {k: v for k, v in query.items() if v} | {"limit": 50, "offset": (page - 1) * 50}
    )
    result = service.get_accessible_resources(session, principal, flt)
    units = orgs.list_units(session)
    return console.render(
        request,
        "catalog/list.html",
        {
            "result": result,
            "query": query,
            "page": page,
            "pages": max((result.total + 49) // 50, 1),
            "units": units,
            "unit_names": {u.code: u.name for u in units},
            # resources are the city's or a district's: the cascade starts at the city
            "region_picker": orgs.region_picker(
                session, region, deepest=RegionLevel.district, top=RegionLevel.city
            ),
            "can_edit": principal.can(CATALOG_EDIT),
            "map": _catalog_map(service.resources_by_region(session, principal)),
            **_label_choices(),
        },
    )


@router.get("/console/catalog/new")
def new_page(request: Request, session: DbSession, principal: CatalogEditor) -> Response:
    return _form(
        request, session, principal, resource=None, errors={},
        values={"provider_unit_code": principal.unit_code, "classification": "301001"},
    )  # fmt: skip


@router.post("/console/catalog/new")
def create(
    request: Request, session: DbSession, principal: CatalogEditor, values: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        created = service.create_resource(
            session, principal, ResourceCreate.model_validate(_form_data(values))
        )
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _form(
            request, session, principal, resource=None, values=values,
            errors=form_errors(exc), status=422,
        )  # fmt: skip
    return once.redirect(session, f"/console/catalog/{created.code}?saved=1")


@router.get("/console/catalog/import")
def import_page(request: Request, _: CatalogEditor) -> Response:
    return console.render(request, "catalog/import.html", {"report": None, "errors": {}})


@router.post("/console/catalog/import")
def import_upload(
    request: Request, session: DbSession, principal: CatalogEditor, form: RawForm, token: FormToken
) -> Response:
    upload = form.get("file")
    dry_run = form.get("dry_run") == "on"
    report, errors = None, {}
    if upload is None or isinstance(upload, str) or not upload.filename:
        errors = {"file": "choose an .xlsx or .csv file"}
    else:
        try:
            if not dry_run:
                claim(request, session, token).done(session, "/console/catalog")
            follow = bus.form_reporter(request.app.state.shared, str(form.get(FIELD, "")),
                                       principal.username)  # fmt: skip
            report = service.import_resources(session, principal, upload.filename,
                                              upload.file.read(), dry_run=dry_run, progress=follow)  # fmt: skip
        except CitybaseError as exc:
            undo(session)
            errors = form_errors(exc)
    failed = bool(errors) or bool(report and report.problems)
    return console.render(
        request, "catalog/import.html",
        {"report": report, "errors": errors, "dry_run": dry_run, "failed": failed},
        422 if failed else 200,
    )  # fmt: skip


@router.get("/console/catalog/{code}")
def resource_page(
    request: Request, session: DbSession, principal: CatalogReader, code: str
) -> Response:
    resource = service.get_accessible_resource(session, principal, code)
    history, _ = ledger.find_entries(
        session, LedgerFilter(object_type="data_resource", object_id=code, limit=100)
    )
    actions = [
        a for a, (starts, _) in service.TRANSITIONS.items()
        if resource.status in starts
        and (principal.can(CATALOG_EDIT) if a in service.BY_PROVIDER else principal.can(CATALOG_REVIEW))
    ]  # fmt: skip
    return console.render(
        request,
        "catalog/resource.html",
        {
            "r": resource,
            "versions": service.versions(session, principal, code),
            "history": history,
            "actions": actions,
            "can_edit": principal.can(CATALOG_EDIT) and resource.status == "draft",
            "panels": console.panels(PANELS, session, principal, resource),
        },
    )


@router.get("/console/catalog/{code}/edit")
def edit_page(
    request: Request, session: DbSession, principal: CatalogEditor, code: str
) -> Response:
    resource = service.get_accessible_resource(session, principal, code)
    if resource.status is not Status.draft:
        raise Conflict(
            f"only a draft can be changed; {code} is {resource.status.value}: revise it first",
            field="status",
        )
    values = resource.model_dump(mode="json") | {
        "items_text": _items_text(resource.items),
        "keywords": ", ".join(resource.keywords),
        "theme_tags": ", ".join(resource.theme_tags),
        "related_codes": ", ".join(resource.related_codes),
    }
    return _form(request, session, principal, resource=resource, values=values, errors={})


@router.post("/console/catalog/{code}/edit")
def update(
    request: Request, session: DbSession, principal: CatalogEditor, code: str, once: FormOnce,
    values: SubmittedForm,
) -> Response:  # fmt: skip
    resource = service.get_accessible_resource(session, principal, code)
    try:
        data = _form_data(values)
        data.pop("classification", None)
        data.pop("provider_unit_code", None)
        service.update_resource(session, principal, code, ResourceUpdate.model_validate(data))
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _form(
            request, session, principal, resource=resource, values=values,
            errors=form_errors(exc), status=422,
        )  # fmt: skip
    return once.redirect(session, f"/console/catalog/{code}?saved=1")


@router.post("/console/catalog/{code}/act/{action}")
def act(
    request: Request,
    session: DbSession,
    principal: CatalogReader,
    code: str,
    action: str,
    once: FormOnce,
    values: SubmittedForm,
) -> Response:
    service.transition(
        session, principal, code, action, Transition(reason=str(values.get("reason", "")))
    )
    return once.redirect(session, f"/console/catalog/{code}?saved=1")


@router.get("/console/catalog/{code}/diff")
def diff_page(
    request: Request, session: DbSession, principal: CatalogReader, code: str,
    a: int, b: int,
) -> Response:  # fmt: skip
    return console.render(
        request, "catalog/diff.html", {"d": service.diff(session, principal, code, a, b)}
    )


add_translations("zh", {
    "a resource is registered and changed by its own provider unit": "数据资源由其提供单位登记和修改",
    "a unit does not review its own resources": "单位不审核本单位的数据资源",
    "say why the resource is returned": "请说明退回理由",
    "the workbook needs a sheet named 资源 (or resources)": "工作簿须包含名为“资源”（或 resources）的工作表",
    "a conditionally shared resource needs its share condition": "有条件共享的资源须填写共享条件",
    "a conditionally open resource needs its open condition": "有条件开放的资源须填写开放条件",
    "类 (1–3), 项 (2 digits), 目 (3 digits), then up to 20 for 细目": "类（1–3）、项（2位）、目（3位），细目最多20位",
    "choose an .xlsx or .csv file": "请选择 .xlsx 或 .csv 文件",
})  # fmt: skip
add_patterns("zh", {
    r"data item (.+) appears twice": "信息项 {0} 重复", r"no column (.+)": "没有列 {0}",
    r"(\S+) has no version (\S+)": "{0} 没有版本 {1}",
})  # fmt: skip

add_patterns("zh", {
    r"(\S+) is \w+: it cannot be \w+ now \(possible: .*\)": "资源 {0} 在当前状态下不能执行此操作",
})  # fmt: skip


QUEUE_LABELS = {"approve": "Resources to approve", "register": "Resources to register",
                "publish": "Resources to publish", "submit": "Own drafts to submit"}  # fmt: skip


def _waiting_resources(session: Session, principal: Principal) -> list[Waiting]:
    """The catalog's work queue on the desk: resources to approve, register and publish (the
    bureau's reviewers), the unit's own drafts (its editors)."""
    return [
        Waiting(QUEUE_LABELS[action], len(found), min((r.updated_at for r in found), default=None),
                "/console/catalog/queue")
        for action, found in service.work_queue(session, principal).items()
    ]  # fmt: skip


console.add_waiting(_waiting_resources)
add_translations("zh", {
    "Resources to approve": "待审核的数据资源", "Resources to register": "待登记的数据资源",
    "Resources to publish": "待发布的数据资源", "Own drafts to submit": "本单位待提交的资源草稿",
    service.IMPORT_CHECK: "正在检查各行", service.IMPORT_REGISTER: "正在登记数据资源",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"only a draft can be changed; (.+?) is (.+?): revise it first": "只有草稿可以修改；{0} 当前为「{1}」：请先发起修订",
    r"row (.+?), (?P<field>.+?): (.+?) \((.+?) problem\(s\); nothing was registered\)": "第 {0} 行，{1}：{2}（共 {3} 处问题，未登记任何资源）",
    r"only a draft can be changed; (.+?) is (.+?) \(revise it first\)": "只有草稿可以修改；{0} 当前为「{1}」（请先发起修订）",
    r"no action (.+?)": "没有操作 {0}",
})  # fmt: skip
