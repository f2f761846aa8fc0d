"""The citizen portal of 12345 (no sign-in): submit a request with a suggested category, follow
it by case number and phone, read the reply and rate it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, InvalidInput, NotFound, TooMany
from citybase.core.files import service as files
from citybase.core.identity.auth import OptionalPrincipal
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.core.web import once as once_
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawForm, SubmittedForm, failure, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations, translate
from citybase.core.web.limits import limiter_for
from citybase.core.web.once import FormToken, claim
from citybase.core.web.templating import NavEntry, console
from citybase.hub.cases.schemas import STATE_NAMES, Attachment, CaseCreate, CaseRead, CaseState
from citybase.hub.events import service as events
from citybase.services.hotline import service

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Applications", "12345 portal", "/hotline", None, order=10))
add_translations("zh", {
    "12345 portal": "12345 市民服务", "Tell us": "我要反映", "Follow your request": "查询办理进度",
    "Use my location": "使用我的位置", "Finding where you are…": "正在获取位置…",
    "Your location is taken": "已获取您的位置",
    "Your location could not be found: say the address instead.": "无法获取位置，请填写地址。",
    "What happened, where and since when": "请描述问题、地点和发生时间", "Your phone": "您的手机号",
    "Your name": "您的姓称", "Where": "地点", "District": "区县", "Kind of matter": "诉求类别",
    "Suggest a kind": "推荐类别", "Submit": "提交", "Request number": "工单编号",
    "Your request is in: keep its number.": "您的诉求已受理，请记下工单编号。",
    "State": "状态", "Reply": "答复", "Rate the reply": "评价答复",
    "Thank you for your verdict.": "感谢您的评价。", "Comment": "意见", "Find": "查询",
    "We will call you back if we need more.": "如需补充情况，我们会与您电话联系。",
    "Steps so far": "办理进度", "(let us decide)": "（由我们判断）",
    "Rate this service (好差评)": "评价本次服务（好差评）",
    "Too many requests from here: please try again later, or call 12345.":
        "提交过于频繁，请稍后再试，或拨打12345热线。", "Photos (up to three)": "照片（最多三张）",
    "Photos already chosen (untick to leave one out)": "已选择的照片（取消勾选即不提交）",
    "This request was received already: keep its number.": "该诉求已受理，请记下工单编号。",
    "A photo taken on the spot tells us where, if your phone records the place.":
        "现场拍摄的照片如记录了拍摄位置，可帮助我们确定地点。", "Photos": "照片",
})  # fmt: skip

PORTAL_PHOTOS = 3
FIELD_LABELS = {"text": "What happened, where and since when", "address": "Where",
                "reporter_phone": "Your phone", "reporter_name": "Your name",
                "photos": "Photos (up to three)", "captcha": "Picture code",
                "region_code": "District", "category_code": "Kind of matter"}  # fmt: skip
add_translations("zh", {
    "Choose your verdict": "请选择满意程度", "Picture code": "验证码", "Type the characters in the picture": "请输入图中字符",
    "Cannot read it? Reload the page for another, or call 12345.":
        "看不清？刷新页面换一张，或拨打12345热线。",
    "the picture code has expired: type the new one": "验证码已过期，请输入新的验证码",
    "the picture code has been used: type the new one": "验证码已使用，请输入新的验证码",
    "the code does not match the picture": "验证码不正确",
    "at most 3 photos": "最多上传三张照片", "no case with this number and phone": "工单编号与手机号不符",
    "choose satisfied, basic or unsatisfied": "请选择满意、基本满意或不满意",
    "give both lon and lat, or neither": "经度和纬度须同时提供",
    "say where: an address, a region or coordinates": "请填写地点：地址、区县或使用您的位置",
    "give a phone number: with it and the case number you can follow your request":
        "请填写手机号：凭手机号和工单编号可查询办理进度",
    "not a phone number: a mobile is 11 digits starting 13–19, a landline 0 + area code + 7–8 "
    "digits": "手机号格式不正确：手机号为13–19开头的11位数字，固定电话为0＋区号＋7–8位号码",
})  # fmt: skip

HOUR, DAY = 3600, 86400


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _too_many(request: Request) -> str:
    return translate(request.state.lang, "Too many requests from here: please try again later, "
                     "or call 12345.")  # fmt: skip


PUBLIC_STEPS = {"accept", "dispatch", "reassign", "sign", "reply", "follow_up", "reopen", "close",
                "merge"}  # fmt: skip


def _choices(session: DbSession) -> dict[str, Any]:
    return {
        "categories": [c for c in events.categories(session) if c.level == 2],
    }


def _portal(
    request: Request, session: DbSession, context: dict[str, Any], status: int = 200
) -> Response:
    settings = request.app.state.settings
    picture = captcha.challenge(settings) if settings.hub.portal_captcha else None
    return console.render(request, "hotline/portal.html",
                          {"form": {}, "errors": {}, "suggested": [], "made": None,
                           "captcha": picture, "labels": FIELD_LABELS, **_choices(session),
                           "region_picker": orgs.region_picker(session, str(
                               context.get("form", {}).get("region_code") or "")),
                           **context}, status)  # fmt: skip


@router.get("/hotline")
def portal(request: Request, session: DbSession, _: Public, who: OptionalPrincipal) -> Response:
    return _portal(request, session, {})


@router.post("/hotline")
def portal_submit(
    request: Request, session: DbSession, settings: AppSettings, _: Public, who: OptionalPrincipal,
    form: SubmittedForm, raw: RawForm, token: FormToken,
) -> Response:  # fmt: skip
    uploads = [(u.filename or "", u.file.read(files.read_limit(settings)))
               for u in raw.getlist("photos")
               if not isinstance(u, str) and u.filename]  # fmt: skip
    sealed = form.get("kept_photos") or []
    carried = [fid for ref in ([sealed] if isinstance(sealed, str) else sealed)
               if (fid := once_.open_reference(settings, ref))][:PORTAL_PHOTOS]  # fmt: skip
    if form.get("do") == "suggest":
        names = {c.code: c.name for c in events.categories(session)}
        suggested = [(code[:4], names.get(code[:4], code), p)
                     for code, p in service.suggest(settings, str(form.get("text", "")))]  # fmt: skip
        if suggested and not form.get("category_code"):
            form["category_code"] = suggested[0][0]
        return _portal(request, session, {"form": form, "suggested": suggested,
                                          **_carry(session, settings, carried, uploads)})  # fmt: skip
    data = {k: v for k, v in form.items()
            if k in ("text", "reporter_phone", "reporter_name", "address", "region_code",
                     "category_code", "lon", "lat")
            and not (k in ("lon", "lat") and v == "")}  # fmt: skip
    hub = settings.hub
    try:
        once = claim(request, session, token)
        limits = limiter_for(request)
        limits.hit(f"portal.submit:{_client(request)}", hub.portal_submissions_per_hour, HOUR,
                   _too_many(request))  # fmt: skip
        if hub.portal_captcha:
            captcha.check(
                request.app.state.shared,
                settings,
                str(form.get("captcha_token", "")),
                str(form.get("captcha", "")),
            )
        case = CaseCreate.model_validate(data)
        limits.hit(f"portal.submit.phone:{case.reporter_phone}", hub.portal_submissions_per_phone,
                   DAY, _too_many(request))  # fmt: skip
        if len(uploads) + len(carried) > PORTAL_PHOTOS:
            raise InvalidInput(f"at most {PORTAL_PHOTOS} photos", field="photos")
        kept = [*carried, *(files.keep(session, settings, CITIZEN, name, data).id
                            for name, data in uploads)]  # fmt: skip
        case = case.model_copy(update={"attachments": [Attachment(file_id=f) for f in kept]})
        made = service.portal_submit(session, case, settings)
        once.done(session, f"/hotline/track?number={made.number}&sent=1")
    except TooMany as exc:
        undo(session)  # a caller held back keeps what it had, and stores nothing new
        response = _portal(request, session, {"form": form, "errors": {"form": exc.message},
                                              **_carry(session, settings, carried, [])}, 429)  # fmt: skip
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except (CitybaseError, ValidationError) as exc:
        errors = failure(session, exc)  # nothing of the refused request is kept but its photos:
        return _portal(request, session, {"form": form, "errors": errors,  # chosen once is enough
                                          **_carry(session, settings, carried, uploads)}, 422)  # fmt: skip
    return _portal(request, session, {"made": made})


CITIZEN = "citizen (portal)"


def _carry(
    session: DbSession, settings: Settings, carried: list[str], uploads: list[tuple[str, bytes]]
) -> dict[str, Any]:
    """The photos a form drawn again hands back, by reference (signed ids of kept files), so
    that the citizen need not choose them again: those it already carried, and the new ones
    that are photos at all (one that is not is left out; the error said why)."""
    ids = list(carried)
    for name, data in uploads:
        if len(ids) >= PORTAL_PHOTOS:
            break
        try:
            ids.append(files.keep(session, settings, CITIZEN, name, data).id)
        except CitybaseError:
            continue
    found = files.many(session, ids)
    return {"kept_photos": [(once_.seal_reference(settings, i), found[i].name)
                            for i in ids if i in found]}  # fmt: skip


def _public(case: CaseRead, steps: list[Any], photos: list[tuple[str, str]]) -> dict[str, Any]:
    return {"case": case, "state": STATE_NAMES[case.state],
            "steps": [s for s in steps if s.action in PUBLIC_STEPS],
            "may_rate": case.state is CaseState.replied, "photos": photos,
            "may_evaluate": case.state is CaseState.closed}  # fmt: skip


@router.get("/hotline/track")
def track_page(request: Request, _: Public, who: OptionalPrincipal) -> Response:
    # ?number=…&sent=1: where a report sent twice lands, its number ready to follow
    number = request.query_params.get("number", "")[:40]
    return console.render(request, "hotline/track.html", {
        "found": None, "errors": {}, "form": {"number": number},
        "sent": bool(number and request.query_params.get("sent"))})  # fmt: skip


@router.post("/hotline/track")
def track_submit(
    request: Request, session: DbSession, settings: AppSettings, _: Public, who: OptionalPrincipal,
    form: SubmittedForm,
) -> Response:  # fmt: skip
    number, phone = str(form.get("number", "")), str(form.get("phone", ""))
    rated = False
    hub = settings.hub
    limits = limiter_for(request)
    try:
        limits.hit(f"portal.track:{_client(request)}", hub.portal_lookups_per_hour, HOUR,
                   _too_many(request))  # fmt: skip
        wait = limits.blocked_for(f"portal.track.number:{number.strip()}", hub.portal_wrong_phones)
        if wait:
            raise TooMany(_too_many(request), retry_after=wait)
        if form.get("rate") or form.get("satisfaction"):  # a rating sent without a choice: say so
            service.rate(
                session, number, phone, str(form["satisfaction"]), str(form.get("note", ""))
            )
            rated = True
        case = service.track(session, number, phone)
        steps = service.public_steps(session, number)
        photos = service.public_photos(session, settings, case)
    except CitybaseError as exc:
        undo(session)
        if isinstance(exc, NotFound):  # a wrong phone (or number) counts against the number
            limits.count(f"portal.track.number:{number.strip()}", HOUR)
        response = console.render(request, "hotline/track.html",
                                  {"found": None, "errors": form_errors(exc), "form": form},
                                  exc.status_code)  # fmt: skip
        if isinstance(exc, TooMany):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    return console.render(request, "hotline/track.html",
                          {"found": _public(case, steps, photos), "errors": {}, "rated": rated,
                           "form": {"number": number, "phone": phone}})  # fmt: skip


# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"(.+?) is a group \(大类\), not a service": "{0} 是大类，不是服务事项",
    r"at most (.+?) photos": "最多上传 {0} 张照片",
    r"no service (.+?)": "没有服务事项 {0}",
    r"answer (.+?): (.+?): (.+?)": "第 {0} 条答复，{1}：{2}",
})  # fmt: skip
add_translations("zh", {
    "service_code is required": "服务事项编码必填",
    "a location is required: lat and long, or address_string": "须给出位置：经纬度或地址",
    "attribute[urgency] must be urgent, pressing or normal": "紧急程度应为紧急、较急或一般",
    "description is required (at least 4 characters)": "诉求描述必填（至少 4 个字符）",
    "this media link is not valid or has expired": "该媒体链接无效或已过期",
    "a knowledge file holds an 'answers' list": "知识库文件应包含答复列表（answers）",
    "lat and long must be decimal degrees": "经纬度应为十进制度数",
    "status is open or closed": "状态只能是办理中或已办结",
})  # fmt: skip
