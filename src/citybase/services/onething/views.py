"""Console pages of the one-thing service: the bureau's catalog (一件事清单) with each item's
pre-fill share, the units' view of the applications, and the applicant's pages — apply with one
form, follow one application, give what a unit asks for, confirm or decline an offer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from citybase.core.errors import CitybaseError
from citybase.core.files import service as files
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.settings import Settings
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawForm, SubmittedForm, form_errors, undo
from citybase.core.web.i18n import add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.templating import NavEntry, console
from citybase.core.workdays import calendar_for
from citybase.data.masking import operators as ops
from citybase.services.onething import service
from citybase.services.onething.auth import (
    ONETHING_APPLY,
    ONETHING_FOLLOW,
    ONETHING_KEEP,
    ONETHING_READ,
    OneThingApplicant,
    OneThingFollower,
    OneThingKeeper,
    OneThingReader,
)
from citybase.services.onething.schemas import ApplicationCreate, Supplement

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Applications", "One-thing catalog", "/console/onething", ONETHING_READ,
                          order=20))  # fmt: skip
console.add_page(NavEntry("Applications", "One-thing applications",
                          "/console/onething/applications", ONETHING_FOLLOW, order=21))  # fmt: skip
console.add_page(NavEntry("Applications", "Apply for one thing", "/onething", ONETHING_APPLY,
                          order=22))  # fmt: skip
add_translations("zh", {
    "One-thing catalog": "一件事清单",
    "One-thing applications": "一件事申请",
    "Apply for one thing": "一件事办理",
    "One-thing item": "事项",
    "Leading unit": "牵头单位",
    "Matters": "事项",
    "Matter": "单项事项",
    "Handling unit": "办理单位",
    "Time limit (working days)": "法定时限（工作日）",
    "Conditions of acceptance": "受理条件",
    "Materials": "申请材料",
    "Form fields": "表单字段",
    "Needs the result of": "需前置结果",
    "Stages (matters of a stage run in parallel)": "办理阶段（同一阶段的事项并联办理）",
    "Share of fields pre-filled": "表单预填率",
    "Applications made": "申请数",
    "Not measured yet": "尚无申请",
    "Load items from YAML": "从 YAML 导入事项",
    "Load": "导入",
    "Edit this item (YAML)": "编辑本事项（YAML）",
    "Save": "保存",
    "Saved.": "已保存。",
    "Legal basis": "依据",
    "Offered unasked when": "免申即办条件",
    "age reached": "达到年龄",
    "Application number": "申请编号",
    "State": "状态",
    "Submitted": "提交时间",
    "Case": "工单",
    "Asked for": "补正要求",
    "Result": "办理结果",
    "My applications": "我的申请",
    "Offers for you (no application needed)": "为您推送的免申即办事项",
    "Confirm and apply": "确认办理",
    "Decline": "谢绝",
    "Apply": "申请",
    "What you consent to": "授权说明",
    "consent.text": "办理本事项需要调取您在城市基础库（一人一档/一企一档）和各部门共享资源中的信息，用于预填申请表并交各办理单位使用。每次调取都记入审计账本和调用日志。",
    "I consent": "同意授权并预填表单",
    "One form": "一表申请",
    "Field": "字段",
    "Field value": "内容",
    "Source": "来源",
    "Filled by you": "由您填写",
    "Refused by the sharing rules": "共享规则拒绝",
    "pre-filled": "已预填",
    "Proven by certificate": "已由电子证照证明",
    "Upload": "上传",
    "Submit the application": "提交申请",
    "Give what was asked for": "补正材料",
    "Note": "说明",
    "Send the material": "提交",
    "Nothing yet.": "暂无。",
    "ot.state.offered": "待确认",
    "ot.state.declined": "已谢绝",
    "ot.state.submitted": "已提交",
    "ot.state.in_progress": "办理中",
    "ot.state.needs_material": "待补正",
    "ot.state.completed": "已办结",
    "ot.state.waiting": "等待前置事项",
    "ot.state.handling": "办理中",
    "ot.state.done": "已办结",
    "ot.source.library": "基础库",
    "ot.source.resource": "共享资源",
    "ot.source.applicant": "申请人填写",
})  # fmt: skip
add_translations("en", {
    "consent.text": "This item reads what the city's base libraries and the units' shared "
    "resources hold about you, to fill the form and give it to the units that handle it. "
    "Every read is on the ledger and in the access log.",
    **{f"ot.state.{s}": s.replace("_", " ") for s in (
        "offered", "declined", "submitted", "in_progress", "needs_material", "completed",
        "waiting", "handling", "done")},
    **{f"ot.source.{s}": s for s in ("library", "resource", "applicant")},
})  # fmt: skip


def _keys(settings: Settings) -> ops.Keys:
    return ops.keys_for(settings.masking_key)


# --- the bureau's catalog ------------------------------------------------------------------------


@router.get("/console/onething")
def catalog(request: Request, session: DbSession, principal: OneThingReader) -> Response:
    return _catalog(request, session, principal)


def _catalog(
    request: Request, session: Session, principal: Principal, *, problems: list[str] | None = None,
    text: str = "", status: int = 200,
) -> Response:  # fmt: skip
    return console.render(request, "onething/catalog.html", {
        "items": service.list_items(session), "keeper": principal.can(ONETHING_KEEP),
        "problems": _split(problems or []), "text": text,
        "saved": request.query_params.get("saved"),
    }, status)  # fmt: skip


def _split(problems: list[str]) -> list[tuple[str, str]]:
    """``where: what`` → (where, what): where is shown as code, what is in Chinese."""
    return [(p.partition(": ")[0], p.partition(": ")[2]) if ": " in p else ("", p)
            for p in problems]  # fmt: skip


@router.post("/console/onething/load")
def load(
    request: Request, session: DbSession, principal: OneThingKeeper, once: FormOnce,
    values: SubmittedForm,
) -> Response:  # fmt: skip
    text = str(values.get("yaml", ""))[:500_000]
    report = service.load_items(session, principal, text)
    if report.problems:
        undo(session)
        return _catalog(request, session, principal, text=text, status=422,
                        problems=report.problems[:30])  # fmt: skip
    return once.redirect(session, "/console/onething?saved=1")


@router.get("/console/onething/items/{code}")
def item_page(
    request: Request, session: DbSession, principal: OneThingReader, code: str
) -> Response:
    return _item(request, session, principal, code)


def _item(
    request: Request, session: Session, principal: Principal, code: str, *,
    problems: list[str] | None = None, text: str = "", status: int = 200,
) -> Response:  # fmt: skip
    item = service.get_item(session, code)
    return console.render(request, "onething/item.html", {
        "item": item, "keeper": principal.can(ONETHING_KEEP), "problems": _split(problems or []),
        "text": text or service.item_yaml(item), "saved": request.query_params.get("saved"),
        "may_apply": principal.can(ONETHING_APPLY),
    }, status)  # fmt: skip


@router.post("/console/onething/items/{code}")
def edit_item(
    request: Request, session: DbSession, principal: OneThingKeeper, code: str, once: FormOnce,
    values: SubmittedForm,
) -> Response:  # fmt: skip
    text = str(values.get("yaml", ""))[:500_000]
    service.get_item(session, code)  # an unknown item is a 404 before anything is read
    specs, problems = service.parse_items(text)
    if not problems and (len(specs) != 1 or specs[0].code != code):
        problems = [f"YAML: 应只含事项 {code}"]
    if not problems:
        problems = service.check_spec(session, specs[0])
    if problems:
        undo(session)
        return _item(request, session, principal, code, problems=problems, text=text, status=422)
    service.save_item(session, principal, specs[0])
    return once.redirect(session, f"/console/onething/items/{code}?saved=1")


# --- the units' view -----------------------------------------------------------------------------


@router.get("/console/onething/applications")
def applications(request: Request, session: DbSession, principal: OneThingFollower) -> Response:
    item = request.query_params.get("item", "")[:40]
    return console.render(request, "onething/applications.html", {
        "applications": service.unit_applications(session, principal, item), "item": item,
    })  # fmt: skip


@router.get("/console/onething/applications/{number}")
def application_page(request: Request, session: DbSession, principal: OneThingFollower,
                     number: str) -> Response:  # fmt: skip
    app = service.get_application(session, principal, number)
    return console.render(request, "onething/application.html", {
        "app": app, "item": service.get_item(session, app.item_code), "mine": False,
        "errors": {},
    })  # fmt: skip


# --- the applicant's pages -----------------------------------------------------------------------


@router.get("/onething")
def home(request: Request, session: DbSession, principal: OneThingApplicant) -> Response:
    mine = service.my_applications(session, principal)
    return console.render(request, "onething/home.html", {
        "items": [i for i in service.list_items(session) if i.active],
        "offers": [a for a in mine if a.state == "offered"],
        "mine": [a for a in mine if a.state != "offered"],
    })  # fmt: skip


@router.get("/onething/items/{code}/apply")
def consent_page(request: Request, session: DbSession, principal: OneThingApplicant,
                 code: str) -> Response:  # fmt: skip
    return console.render(request, "onething/consent.html", {
        "item": service.get_item(session, code), "offer": request.query_params.get("offer", "")[:40],
    })  # fmt: skip


def _form_page(
    request: Request, session: Session, settings: Settings, principal: Principal, code: str,
    offer: str, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    form = service.build_form(session, principal, code, settings, _keys(settings))
    return console.render(request, "onething/form.html", {
        "item": service.get_item(session, code), "form": form, "offer": offer,
        "values": values or {}, "errors": errors or {},
    }, status)  # fmt: skip


@router.post("/onething/items/{code}/form")
def prefilled_form(request: Request, session: DbSession, settings: AppSettings,
                   principal: OneThingApplicant, code: str, values: SubmittedForm) -> Response:  # fmt: skip
    if values.get("consent") != "yes":
        return console.render(request, "onething/consent.html", {
            "item": service.get_item(session, code), "offer": str(values.get("offer", ""))[:40],
            "errors": {"consent": "请先同意授权调取您的信息"},
        }, 422)  # fmt: skip
    try:
        return _form_page(
            request, session, settings, principal, code, str(values.get("offer", ""))[:40]
        )
    except CitybaseError as exc:
        undo(session)
        return console.render(request, "onething/consent.html", {
            "item": service.get_item(session, code), "offer": "", "errors": form_errors(exc),
        }, exc.status_code)  # fmt: skip


@router.post("/onething/items/{code}/submit")
def submit(request: Request, session: DbSession, settings: AppSettings,
           principal: OneThingApplicant, code: str, form: RawForm, token: FormToken) -> Response:  # fmt: skip
    values = {k.removeprefix("value."): str(v).strip() for k, v in form.items()
              if k.startswith("value.") and isinstance(v, str) and str(v).strip()}  # fmt: skip
    offer = str(form.get("offer", ""))[:40]
    try:
        once = claim(request, session, token)  # sent twice, the application is made once
        materials: dict[str, str] = {}
        for key, upload in form.multi_items():
            if key.startswith("material.") and isinstance(upload, UploadFile) and upload.filename:
                data = upload.file.read(files.read_limit(settings))
                kept = files.keep(
                    session, settings, actor_of(principal).name, upload.filename, data
                )
                materials[key.removeprefix("material.")] = kept.id
        app = service.submit(session, principal, ApplicationCreate(
            item_code=code, consent=True, values=values, materials=materials, offer=offer,
        ), settings, _keys(settings))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        errors = _problems(exc)
        return _form_page(request, session, settings, principal, code, offer, values=values,
                          errors=errors, status=422)  # fmt: skip
    return once.redirect(session, f"/onething/applications/{app.number}")


def _problems(exc: Exception) -> dict[str, str]:
    if isinstance(exc, CitybaseError) and exc.details.get("problems"):
        return {p["field"]: p["message"] for p in exc.details["problems"]}
    return form_errors(exc)


@router.get("/onething/applications/{number}")
def follow(
    request: Request, session: DbSession, principal: OneThingApplicant, number: str
) -> Response:
    app = service.get_application(session, principal, number)
    return console.render(request, "onething/application.html", {
        "app": app, "item": service.get_item(session, app.item_code), "mine": True,
        "errors": {},
    })  # fmt: skip


@router.post("/onething/applications/{number}/matters/{matter}/supplement")
def give(request: Request, session: DbSession, settings: AppSettings,
         principal: OneThingApplicant, number: str, matter: str, once: FormOnce,
         form: RawForm) -> Response:  # fmt: skip
    try:
        materials: dict[str, str] = {}
        upload = form.get("file")
        if isinstance(upload, UploadFile) and upload.filename:
            data = upload.file.read(files.read_limit(settings))
            materials[f"{matter}.supplement"] = files.keep(
                session, settings, actor_of(principal).name, upload.filename, data
            ).id
        service.supplement(session, principal, number, matter, Supplement(
            note=str(form.get("note", ""))[:2000], materials=materials),
            cal=calendar_for(settings.home))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        undo(session)
        app = service.get_application(session, principal, number)
        return console.render(request, "onething/application.html", {
            "app": app, "item": service.get_item(session, app.item_code), "mine": True,
            "errors": form_errors(exc),
        }, 422)  # fmt: skip
    return once.redirect(session, f"/onething/applications/{number}")


@router.post("/onething/applications/{number}/decline")
def decline(request: Request, session: DbSession, principal: OneThingApplicant,
            number: str, once: FormOnce) -> Response:  # fmt: skip
    service.decline_offer(session, principal, number)
    return once.redirect(session, "/onething")
