"""The operator's desk and the knowledge base in the console.

The desk takes a call in one screen: phone, words, place, kind and urgency; "check" shows, before
anything is written, the open cases nearby that look like the same matter, the classifier's three
likeliest categories, the place found on the register and the standard answers that fit — so a
question answered on the spot is closed at once (直接办结) and the rest is accepted and, when the
suggestion is sure and the catalog knows where it goes, dispatched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError
from citybase.core.files import service as files
from citybase.core.identity.service import actor_of
from citybase.core.orgs import service as orgs
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import (
    RawForm,
    SubmittedForm,
    blank_to_none,
    failure,
    split_list,
    undo,
)
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.core.workdays import calendar_for
from citybase.hub.cases import service as cases
from citybase.hub.cases.auth import CASES_DISPATCH, CASES_INTAKE, Intake
from citybase.hub.cases.schemas import (
    INTAKE_SOURCES,
    Action,
    ActionIn,
    Attachment,
    CaseCreate,
    Channel,
)
from citybase.hub.dispatch.schemas import Urgency
from citybase.hub.events import service as events
from citybase.services.hotline import service
from citybase.services.hotline.auth import KNOWLEDGE_KEEP, KNOWLEDGE_READ, KnowledgeKeeper
from citybase.services.hotline.auth import KnowledgeReader as Reader
from citybase.services.hotline.schemas import AnswerIn

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Applications", "12345 desk", "/console/hotline/desk", CASES_INTAKE,
                          order=11))  # fmt: skip
console.add_page(NavEntry("Applications", "Knowledge base", "/console/hotline/knowledge",
                          KNOWLEDGE_READ, order=12))  # fmt: skip
add_translations("zh", {
    "12345 desk": "12345 受理台", "Knowledge base": "知识库", "Standard answers": "标准答复",
    "Files that came with it": "随附材料",
    "Kept when the case is accepted; a check keeps none.": "受理时保存；查重时不保存。",
    "Answer on the spot and close": "直接答复办结", "Question": "问题", "Answer": "答复口径",
    "Based on": "依据", "Uses": "使用次数", "New standard answer": "新增标准答复",
    "Active": "启用", "Save": "保存", "Keywords (comma-separated)": "关键词（逗号分隔）",
    "Unit": "单位", "No standard answers found.": "未找到标准答复。", "suggested": "推荐",
})  # fmt: skip


def _choices(session: DbSession) -> dict[str, Any]:
    return {
        "categories": [c for c in events.categories(session) if c.level >= 2],
        "units": [u for u in orgs.list_units(session, active=True)],
        "urgencies": list(Urgency), "sources": list(INTAKE_SOURCES), "channels": list(Channel),
    }  # fmt: skip


def _desk(
    request: Request,
    session: DbSession,
    form: dict[str, Any],
    errors: dict[str, str],
    checked: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    principal = request.state.principal
    return console.render(request, "hotline/desk.html",
                          {"form": form, "errors": errors, "checked": checked,
                           "may_dispatch": principal.can(CASES_DISPATCH),
                          "region_picker": orgs.region_picker(session,
                                                              str(form.get("region_code") or "")),
                           **_choices(session)}, status)  # fmt: skip


@router.get("/console/hotline/desk")
def desk(request: Request, session: DbSession, principal: Intake) -> Response:
    return _desk(request, session, {"urgency": "normal", "source": "hotline",
                                    "channel": "phone"}, {})  # fmt: skip


@router.post("/console/hotline/desk")
def desk_submit(
    request: Request, session: DbSession, principal: Intake, settings: AppSettings,
    form: SubmittedForm, raw: RawForm, token: FormToken,
) -> Response:  # fmt: skip
    button = form.pop("do", "accept")
    lead_unit = str(form.get("lead_unit") or "").strip()
    never = settings.hub.model_copy(update={"auto_dispatch_confidence": 2.0})
    data = {k: v for k, v in form.items() if k in CaseCreate.model_fields}
    mover = cases.Mover.of(session, principal)
    cal = calendar_for(settings.home)
    try:
        create = CaseCreate.model_validate(blank_to_none(data, "lon", "lat"))
        once = None if button == "check" else claim(request, session, token)
        if button != "check":  # the files that came with it (WeChat, the app), kept on accepting
            uploads = [u for u in raw.getlist("files")
                       if not isinstance(u, str) and u.filename]  # fmt: skip
            kept = [files.keep(session, settings, mover.actor.name, u.filename or "",
                               u.file.read(files.read_limit(settings))) for u in uploads]  # fmt: skip
            create = create.model_copy(update={"attachments": [
                *create.attachments, *(Attachment(file_id=f.id) for f in kept)]})  # fmt: skip
        if button == "check":  # the duplicate warning, the suggestion and answers; nothing kept
            result = cases.intake(session, mover, create, home=settings.home, hub=never, cal=cal)
            undo(session)
            names = {c.code: c.name for c in events.categories(session)}
            top = [(code, names.get(code, code), p)
                   for code, p in (result.case.suggestion.get("top") or [])]  # fmt: skip
            answers = service.search_answers(session, create.text, limit=3)
            offered = {c.code for c in _choices(session)["categories"]}
            if top and not form.get("category_code") and top[0][0] in offered:
                # the likeliest category is taken as the operator's choice until changed: it
                # stays selected through this page and any page that redraws the form
                form["category_code"] = top[0][0]
            return _desk(request, session, form, {},
                         {"duplicates": result.duplicates, "top": top, "place": result.case,
                          "answers": answers})  # fmt: skip
        if button.startswith("answer:"):  # 直接答复办结 with a standard answer
            entry = service.get_answer(session, int(button.removeprefix("answer:")))
            create = create.model_copy(update={"category_code": ""})
            taken = cases.intake(session, mover, create, home=settings.home, hub=never, cal=cal)
            cases.act(session, mover, taken.case.number, Action.close, ActionIn(
                reply=entry.answer, category_code=entry.category_code,
                note=f"标准答复：{entry.title}"), cal=cal)  # fmt: skip
            service.used(session, entry.id)
            number = taken.case.number
        elif lead_unit:  # the operator names the lead unit: dispatched there, not by the catalog
            taken = cases.intake(session, mover, create.model_copy(update={"category_code": ""}),
                                 home=settings.home, hub=never, cal=cal)  # fmt: skip
            number = taken.case.number
            cases.act(session, mover, number, Action.dispatch, ActionIn(
                lead_unit=lead_unit, category_code=create.category_code), cal=cal)  # fmt: skip
        else:  # no unit named: the dispatch catalog routes it by its category (kept or chosen)
            number = cases.intake(session, mover, create, home=settings.home, hub=settings.hub,
                                  cal=cal).case.number  # fmt: skip
    except (CitybaseError, ValidationError, ValueError) as exc:
        if not isinstance(exc, CitybaseError | ValidationError):
            exc = CitybaseError(str(exc), field="do")
        return _desk(request, session, form, failure(session, exc), status=422)
    assert once is not None
    return once.redirect(session, f"/console/hub/cases/{number}?saved=1")


# --- the knowledge base ---------------------------------------------------------------------------


@router.get("/console/hotline/knowledge")
def knowledge(request: Request, session: DbSession, principal: Reader) -> Response:
    q = request.query_params.get("q", "")
    return console.render(request, "hotline/knowledge.html", {
        "q": q, "hits": service.search_answers(session, q, limit=50),
        "may_keep": principal.can(KNOWLEDGE_KEEP), "form": {}, "errors": {},
    })  # fmt: skip


def _answer_in(form: dict[str, Any]) -> AnswerIn:
    form = dict(form)
    form["keywords"] = split_list(str(form.get("keywords", "")))
    form["active"] = form.get("active") == "on"
    return AnswerIn.model_validate(form)


@router.post("/console/hotline/knowledge")
def knowledge_new(
    request: Request, session: DbSession, principal: KnowledgeKeeper, form: SubmittedForm,
    token: FormToken,
) -> Response:  # fmt: skip
    try:
        once = claim(request, session, token)
        made = service.put_answer(session, actor_of(principal), _answer_in(form))
    except (CitybaseError, ValidationError) as exc:
        return console.render(request, "hotline/knowledge.html", {
            "q": "", "hits": [], "may_keep": True, "form": form,
            "errors": failure(session, exc)}, 422)  # fmt: skip
    return once.redirect(session, f"/console/hotline/knowledge/{made.id}?saved=1")


@router.get("/console/hotline/knowledge/{answer_id}")
def answer_page(request: Request, session: DbSession, principal: Reader, answer_id: Id) -> Response:
    entry = service.get_answer(session, answer_id)
    return console.render(request, "hotline/answer.html", {
        "entry": entry, "form": entry.model_dump(), "errors": {},
        "may_keep": principal.can(KNOWLEDGE_KEEP),
    })  # fmt: skip


@router.post("/console/hotline/knowledge/{answer_id}")
def answer_edit(
    request: Request, session: DbSession, principal: KnowledgeKeeper, answer_id: Id, once: FormOnce,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    try:
        service.put_answer(session, actor_of(principal), _answer_in(form), answer_id)
    except (CitybaseError, ValidationError) as exc:
        entry = service.get_answer(session, answer_id)
        return console.render(request, "hotline/answer.html", {
            "entry": entry, "form": form, "errors": failure(session, exc), "may_keep": True,
        }, 422)  # fmt: skip
    return once.redirect(session, f"/console/hotline/knowledge/{answer_id}?saved=1")


add_patterns("zh", {r"no standard answer (\S+)": "未找到标准答复 {0}"})
