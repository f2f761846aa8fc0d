"""Console pages: the grading queue and a resource's grading (scan, findings, decision)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.tables import csv_records
from citybase.core.web.deps import DbSession
from citybase.core.web.forms import RawForm, form_errors, undo
from citybase.core.web.i18n import add_field_labels, add_patterns, add_translations
from citybase.core.web.once import FormOnce
from citybase.core.web.templating import NavEntry, Panel, console
from citybase.data.catalog import service as catalog
from citybase.data.catalog.auth import CatalogReader
from citybase.data.catalog.schemas import ResourceRead
from citybase.data.grading import service
from citybase.data.grading.auth import GRADING, Grader
from citybase.data.grading.schemas import Decision, Level, ScanRequest

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Grading queue", "/console/grading", GRADING, order=20))

add_translations(
    "zh",
    {
        "Grading queue": "分类分级待定",
        "Classification and grading": "分类分级",
        "Proposed level": "建议级别",
        "Decided level": "确定级别",
        "Reasons": "依据",
        "Findings": "识别结果",
        "Data item": "信息项",
        "Found": "识别出",
        "By item name or data element": "依据信息项名称或数据元",
        "Matches in the sample": "样例命中",
        "Examples (masked)": "示例（已脱敏）",
        "Scan": "扫描",
        "Industry domain": "行业领域",
        "Business": "业务属性",
        "Sample rows (CSV, header = data item names)": "样例数据（CSV，表头为信息项名称）",
        "Decide": "确定级别",
        "Reason (needed when it differs from the proposal)": "理由（与建议级别不同时必填）",
        "Not scanned yet.": "尚未扫描。",
        "proposed": "建议",
        "Nothing waits for a decision.": "没有待确定的资源。",
        "What the level forbids in this resource now": "该级别与资源当前设置的冲突",
        "Sample rows": "样例行数",
        "Scanned by": "扫描人",
        "Decided by": "审核人",
        "level.core": "核心数据",
        "level.important": "重要数据",
        "level.general_4": "一般数据 4 级",
        "level.general_3": "一般数据 3 级",
        "level.general_2": "一般数据 2 级",
        "level.general_1": "一般数据 1 级",
        "kind.citizen_id": "公民身份号码",
        "kind.mobile": "手机号码",
        "kind.bank_card": "银行卡号",
        "kind.credit_code": "统一社会信用代码",
        "kind.name": "姓名",
        "kind.address": "地址",
        **{f"domain.{k}": v for k, v in {
            "public_administration": "政务", "transport": "交通运输", "health": "卫生健康",
            "education": "教育", "natural_resources": "自然资源", "finance": "金融",
            "industry": "工业", "telecom": "电信", "energy": "能源", "social_security": "社会保障",
            "urban": "城乡建设", "ecology": "生态环境", "other": "其他"}.items()},
    },
)  # fmt: skip
add_translations(
    "en",
    {f"level.{lvl.value}": lvl.value.replace("_", " level ") for lvl in Level}
    | {f"domain.{d}": d.replace("_", " ") for d in service.DOMAINS}
    | {f"kind.{k}": k.replace("_", " ") for k in service.LABELS},
)


@router.get("/console/grading")
def queue_page(request: Request, session: DbSession, principal: Grader) -> Response:
    return console.render(
        request, "grading/queue.html", {"queue": service.queue(session, principal)}
    )


def _page(
    request: Request, session: DbSession, principal: CatalogReader, code: str,
    errors: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    return console.render(
        request,
        "grading/resource.html",
        {
            "r": catalog.get_accessible_resource(session, principal, code),
            "g": service.get_grading(session, principal, code),
            "levels": [lvl.value for lvl in Level],
            "domains": service.DOMAINS,
            "can_grade": principal.can(GRADING),
            "errors": errors or {},
        },
        status,
    )


@router.get("/console/grading/{code}")
def resource_page(
    request: Request, session: DbSession, principal: CatalogReader, code: str
) -> Response:
    return _page(request, session, principal, code)


@router.post("/console/grading/{code}/scan")
def scan(
    request: Request, session: DbSession, principal: Grader, code: str, once: FormOnce,
    form: RawForm,
) -> Response:  # fmt: skip
    upload = form.get("sample")
    rows: list[dict[str, str]] = []
    try:
        if upload is not None and not isinstance(upload, str) and upload.filename:
            try:
                text = upload.file.read().decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise InvalidInput("the sample is not UTF-8 text", field="sample") from exc
            rows = csv_records(text, field="sample")[1]
        data = ScanRequest.model_validate(
            {"domain": form.get("domain") or "public_administration",
             "business": form.get("business") or "", "rows": rows}
        )  # fmt: skip
        service.scan_resource(session, principal, code, data)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _page(request, session, principal, code, form_errors(exc), 422)
    return once.redirect(session, f"/console/grading/{code}?saved=1")


@router.post("/console/grading/{code}/decision")
def decide(
    request: Request, session: DbSession, principal: Grader, code: str, once: FormOnce,
    form: RawForm,
) -> Response:  # fmt: skip
    try:
        data = Decision.model_validate(
            {"level": form.get("level"), "reason": form.get("reason") or ""}
        )
        service.decide(session, principal, code, data)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _page(request, session, principal, code, form_errors(exc), 422)
    return once.redirect(session, f"/console/grading/{code}?saved=1")


def _panel(session: Session, principal: Principal, resource: ResourceRead) -> Panel | None:
    grading = service.get_grading(session, principal, resource.code)
    return Panel("Classification and grading", "grading/_panel.html", {"g": grading},
                 link=f"/console/grading/{resource.code}")  # fmt: skip


console.add_panel("catalog.resource", 10, _panel)

add_field_labels({"share_type": "Share type", "open_type": "Open type"})
add_patterns("zh", {
    r"core data cannot be shared without approval.*": "核心数据不能无条件共享",
    r"important data cannot be shared without approval.*": "重要数据不能无条件共享",
    r"core data cannot be opened.*": "核心数据不予开放",
    r"important data cannot be opened.*": "重要数据不予开放",
    r"sensitive personal information cannot be opened unconditionally.*": "敏感个人信息不能无条件开放",
})  # fmt: skip

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"the sample rows have columns that are not data items of (.+?): (.+?)": "样本数据中有不属于 {0} 数据项的列：{1}",
    r"(.+?) has not been scanned yet": "{0} 尚未扫描",
})  # fmt: skip
add_translations("zh", {
    "say why the level differs from the proposal": "请说明定级与建议级别不同的原因",
    "the sample is not UTF-8 text": "样本不是 UTF-8 文本",
})  # fmt: skip
