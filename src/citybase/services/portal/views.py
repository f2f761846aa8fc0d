"""The citizen portal's pages: sign in by mobile number and SMS code (短信验证码登录), register
with a real-name check (实名注册), and my page (我的)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, TooMany
from citybase.core.identity.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_login_form,
    login_form_token,
)
from citybase.core.identity.service import LoginOutcome
from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.forms import SubmittedForm, form_errors
from citybase.core.web.i18n import add_translations
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.data.certificates import service as certificates
from citybase.services.portal import service
from citybase.services.portal.auth import PORTAL_MINE, PortalApplicant
from citybase.services.portal.schemas import CodeSent, RegistrationCreate

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Applications", "My page", "/portal/mine", PORTAL_MINE, order=9))
add_translations("zh", {
    "My page": "我的", "Citizen sign-in": "市民登录", "Real-name registration": "实名注册",
    "Mobile number": "手机号码", "SMS code": "短信验证码", "Send the code": "获取验证码",
    "Sign in": "登录", "Register": "注册", "Full name": "姓名", "Citizen ID number": "公民身份号码",
    "First time here? Register with your real name.": "首次使用？请先实名注册。",
    "Already registered? Sign in.": "已注册？直接登录。",
    "A code was sent to {phone}; it is valid for {minutes} minutes.":
        "验证码已发送至 {phone}，{minutes} 分钟内有效。",
    "If this number is not registered yet, the message says so instead of giving a code.":
        "如该号码尚未实名注册，短信将提示您先注册。",
    "Your name, citizen ID and mobile are checked against the city's own records (实名核验).":
        "您填写的姓名、公民身份号码与手机号码将与本市政务数据核对（实名核验）。",
    "the code is wrong or has expired: ask for a new one": "验证码错误或已过期，请重新获取",
    "too many wrong codes: ask for a new one": "验证码错误次数过多，请重新获取",
    "the name, citizen ID and mobile number do not pass the real-name check":
        "姓名、公民身份号码与手机号码未通过实名核验",
    "Too many tries: please wait and try again later.": "操作过于频繁，请稍后再试。",
    "not a mobile number: 11 digits starting 13–19": "手机号码格式不正确：应为13–19开头的11位数字",
    "not a valid citizen ID (GB 11643): check its length and check character":
        "公民身份号码无效（GB 11643）：请检查位数和校验位",
    "The sign-in form has expired or did not come from this site. Please sign in again.":
        "登录表单已过期或并非来自本站，请重新登录。",
    "This account is disabled.": "该账号已停用。",
    "This account is locked.": "该账号已锁定，请稍后再试。",
    "My e-certificates": "我的电子证照", "My one-thing applications": "我的一件事",
    "My 12345 requests": "我的12345诉求", "Verify": "核验", "Valid until": "有效期至",
    "Issuing authority": "颁发机构", "Certificate number": "证照编号",
    "This account is not tied to a real-name identity yet.": "该账号尚未完成实名身份登记。",
    "Signed in with": "登录手机号", "Long-term": "长期", "Nothing yet.": "暂无。",
    "State": "状态", "Request number": "工单编号", "Application number": "申请编号",
    "Without an account? Look up certificates by ID and one certificate's number.":
        "没有账号？凭证件号码和一张证照编号查询。",
    "My enterprises": "我的企业", "Enterprise space": "企业空间",
    "The enterprises whose legal representative you are, by your verified citizen ID.":
        "以下为登记的法定代表人证件号码与您实名认证的身份证号一致的企业。",
    "Enterprise file": "企业信息", "Unified social credit code": "统一社会信用代码",
    "Enterprise e-certificates": "企业电子证照", "Enterprise one-thing applications": "企业办件",
    "One-thing item": "事项", "Ratings (好差评)": "好差评", "Rated service": "评价对象",
    "Rate it": "去评价", "Rated": "已评价", "Not yet handled": "尚未办结",
    "Rated with the phone given on the application.": "凭申请时填写的手机号评价。",
    "Withheld": "未提供", "masked": "已脱敏", "Back to my page": "返回我的",
    "This page is read on your behalf as the enterprise's legal representative, and the read is recorded.":
        "本页以您作为企业法定代表人的身份调取企业信息，每次调取均留痕。",
    "you are not this enterprise's legal representative: its page is not yours":
        "您不是该企业的法定代表人，无权查看该企业空间",
    "only a citizen whose real name is verified (实名认证) sees the enterprises he represents":
        "仅完成实名认证的个人可查看其担任法定代表人的企业",
})  # fmt: skip
LABELS = {"phone": "Mobile number", "code": "SMS code", "name": "Full name",
          "number": "Citizen ID number", "captcha": "Picture code"}  # fmt: skip


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def _page(request: Request, settings: Settings, template: str, context: dict[str, Any],
          status: int = 200) -> Response:  # fmt: skip
    token, fresh = login_form_token(request, settings)
    picture = captcha.challenge(settings) if settings.hub.portal_captcha else None
    response = console.render(request, template, {
        "form": {}, "errors": {}, "sent": None, "labels": LABELS, "captcha": picture,
        "login_token": token, **context}, status)  # fmt: skip
    if fresh is not None:
        response.set_cookie(LOGIN_COOKIE, fresh, httponly=True, secure=settings.secure_cookies,
                            samesite="lax")  # fmt: skip
    return response


def _next(value: object) -> str:
    """Where a citizen goes once signed in: the portal page that asked for it, else 我的."""
    target = str(value or "")
    return target if target.startswith("/portal/") and "\\" not in target else "/portal/mine"


def _signed_in(settings: Settings, outcome: LoginOutcome, target: str = "") -> Response:
    if outcome.token is None:
        reason = "This account is locked." if outcome.error == "locked" else \
            "This account is disabled."  # fmt: skip
        raise _Refusal(reason)
    response = RedirectResponse(_next(target), status_code=303)
    response.set_cookie(SESSION_COOKIE, outcome.token, max_age=settings.web.session_hours * 3600,
                        httponly=True, secure=settings.secure_cookies, samesite="lax")  # fmt: skip
    return response


class _Refusal(CitybaseError):
    status_code = 403
    code = "refused"


def _form(request: Request, settings: Settings, form: dict[str, Any]) -> dict[str, Any]:
    if not check_login_form(request, settings, str(form.get("login_token", ""))):
        raise _Refusal("The sign-in form has expired or did not come from this site. "
                       "Please sign in again.")  # fmt: skip
    return form


def _captcha(request: Request, settings: Settings, form: dict[str, Any]) -> None:
    if settings.hub.portal_captcha:
        captcha.check(request.app.state.shared, settings, str(form.get("captcha_token", "")),
                      str(form.get("captcha", "")))  # fmt: skip


def _failed(request: Request, settings: Settings, template: str, form: dict[str, Any],
            exc: Exception, sent: Any = None) -> Response:  # fmt: skip
    errors = form_errors(exc)
    status = exc.status_code if isinstance(exc, CitybaseError) else 422
    response = _page(request, settings, template, {"form": form, "errors": errors, "sent": sent},
                     status)  # fmt: skip
    if isinstance(exc, TooMany):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.get("/portal/signin")
def signin_page(request: Request, settings: AppSettings, _: Public) -> Response:
    return _page(request, settings, "portal/signin.html",
                 {"form": {"next": _next(request.query_params.get("next"))}})  # fmt: skip


@router.post("/portal/signin")
def signin_submit(
    request: Request, session: DbSession, settings: AppSettings, _: Public, submitted: SubmittedForm
) -> Response:
    """Step one (no ``code``): the picture code and the number, then a code is sent. Step two:
    the code. A refusal is on the ledger; the request's transaction keeps it."""
    store = request.app.state.shared
    form: dict[str, Any] = {}
    sent: CodeSent | None = None
    try:
        form = _form(request, settings, submitted)
        phone = str(form.get("phone", ""))
        if form.get("code"):
            sent = CodeSent(phone_masked="", minutes=settings.portal.code_minutes)
            outcome = service.sign_in_with_code(session, store, settings, phone,
                                                str(form["code"]), client=_client(request))  # fmt: skip
            return _signed_in(settings, outcome, str(form.get("next", "")))
        _captcha(request, settings, form)
        sent = service.request_sign_in_code(session, store, settings, phone,
                                            client=_client(request))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _failed(request, settings, "portal/signin.html", form, exc, sent)
    return _page(request, settings, "portal/signin.html", {"form": form, "sent": sent})


@router.get("/portal/register")
def register_page(request: Request, settings: AppSettings, _: Public) -> Response:
    return _page(request, settings, "portal/register.html", {})


@router.post("/portal/register")
def register_submit(
    request: Request, session: DbSession, settings: AppSettings, _: Public, submitted: SubmittedForm
) -> Response:
    store = request.app.state.shared
    form: dict[str, Any] = {}
    sent: CodeSent | None = None
    try:
        form = _form(request, settings, submitted)
        if form.get("code"):
            sent = CodeSent(phone_masked="", minutes=settings.portal.code_minutes)
            outcome = service.register_with_code(session, store, settings,
                                                 str(form.get("phone", "")), str(form["code"]),
                                                 client=_client(request))  # fmt: skip
            return _signed_in(settings, outcome)
        _captcha(request, settings, form)
        data = RegistrationCreate.model_validate(
            {k: str(form.get(k, "")) for k in ("name", "number", "phone")}
        )
        sent = service.request_registration_code(session, store, settings, data,
                                                 client=_client(request))  # fmt: skip
    except (CitybaseError, ValidationError) as exc:
        return _failed(request, settings, "portal/register.html",
                       {k: v for k, v in form.items() if k != "number"}, exc, sent)  # fmt: skip
    return _page(request, settings, "portal/register.html",
                 {"form": {"phone": form.get("phone", "")}, "sent": sent})  # fmt: skip


@router.get("/portal/enterprises/{entity_id}")
@traced_read
def enterprise_page(
    request: Request, session: DbSession, settings: AppSettings, principal: PortalApplicant,
    entity_id: Id,
) -> Response:  # fmt: skip
    """企业空间: the refusal is rendered here, not raised, so that its ledger entry is kept."""
    try:
        page = service.enterprise_page(session, settings, principal, entity_id,
                                       str(request.base_url))  # fmt: skip
    except service.NotRepresentative as exc:
        return console.render(request, "error.html", {"status": 403, "title": "Forbidden",
                                                      "message": exc.message}, 403)  # fmt: skip
    qr = {c.certificate.identifier: certificates.qr_svg(c.verify_url) for c in page.certificates}
    return console.render(request, "portal/enterprise.html", {"page": page, "qr": qr})


@router.get("/portal/mine")
@traced_read  # 我的企业: each firm's file read for its name, traced
def my_page(
    request: Request, session: DbSession, settings: AppSettings, principal: PortalApplicant
) -> Response:
    mine = service.my_page(session, settings, principal, str(request.base_url))
    qr = {c.certificate.identifier: certificates.qr_svg(c.verify_url) for c in mine.certificates}
    return console.render(request, "portal/mine.html", {"mine": mine, "qr": qr})
