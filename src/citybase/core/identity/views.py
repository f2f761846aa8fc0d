"""Console pages: sign in and out, users, and one's own API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from citybase.core.errors import CitybaseError, Forbidden, TooMany
from citybase.core.identity import service
from citybase.core.identity.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    CurrentPrincipal,
    check_login_form,
    login_form_token,
    require,
)
from citybase.core.identity.schemas import (
    ApiKeyCreate,
    Principal,
    Role,
    UserCreate,
    UserUpdate,
)
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.web.access import public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.errors import wants_html
from citybase.core.web.forms import SubmittedForm, blank_to_none, form_errors, undo
from citybase.core.web.i18n import add_patterns, add_translations, translate
from citybase.core.web.limits import limiter_for
from citybase.core.web.once import FormOnce, FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console, format_time

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Kernel", "Users", "/console/users", service.USERS_READ, order=20))
console.add_page(NavEntry("Kernel", "My API keys", "/console/keys", service.KEYS_OWN, order=25))
console.add_page(NavEntry("Kernel", "My account", "/console/account", None, order=26))

UsersReader = Annotated[Principal, Depends(require(service.USERS_READ))]
UsersWriter = Annotated[Principal, Depends(require(service.USERS_WRITE))]
KeysOwner = Annotated[Principal, Depends(require(service.KEYS_OWN))]

ROLE_NAMES_ZH = {
    "platform_admin": "平台管理员",
    "unit_admin": "单位管理员",
    "data_steward": "数据专员",
    "data_consumer": "数据使用者",
    "hotline_operator": "热线话务员",
    "case_handler": "案件承办人",
    "supervisor": "督办人员",
    "auditor": "审计员",
    "viewer": "只读用户",
    "data_operator": "授权运营人员",
    "certificate_manager": "电子证照管理员",
    "applicant": "办事申请人",
}
add_translations("zh", ROLE_NAMES_ZH)
add_translations(
    "zh",
    {
        "Users": "用户",
        "User": "用户",
        "New user": "新建用户",
        "My API keys": "我的API密钥",
        "Display name": "显示名称",
        "Unit": "单位",
        "Roles": "角色",
        "Active": "启用",
        "Locked until": "锁定至",
        "Last sign-in": "最近登录",
        "Unlock": "解锁",
        "New password (leave empty to keep)": "新密码（留空则不修改）",
        "Key name": "密钥名称",
        "Scopes (empty: all of your permissions)": "权限范围（留空表示本人全部权限）",
        "Expires": "到期时间",
        "Expires in days": "有效天数",
        "Revoke": "撤销",
        "Revoked": "已吊销",
        "Prefix": "前缀",
        "Create key": "创建密钥",
        "Copy this key now. It is shown only once and cannot be recovered:": "请立即复制此密钥。它只显示这一次，无法找回：",
        "No users.": "暂无用户。",
        "No API keys yet.": "尚无API密钥。",
        "Inactive": "已停用",
        "Scopes": "权限范围",
        "All of your permissions": "本人全部权限",
        "Audit trail": "审计记录",
        "My account": "我的账号",
        "Change password": "修改密码",
        "Current password": "当前密码",
        "New password": "新密码",
        "Password changed. Sign in again with the new one.": "密码已修改，请用新密码重新登录。",
        "Too many failed sign-ins from your address. Please try again in {minutes} minutes.": "您所在地址的登录失败次数过多，请 {minutes} 分钟后再试。",
        "The sign-in form has expired or did not come from this site. Please sign in again.": "登录表单已过期或并非来自本站，请重新登录。",
    },
)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _login_page(
    request: Request, settings: Settings, context: dict[str, object], status: int = 200
) -> Response:
    """The sign-in page, with its form's CSRF token (and the cookie it is checked against)."""
    token, fresh = login_form_token(request, settings)
    response = console.render(request, "login.html", {**context, "login_token": token}, status)
    if fresh is not None:
        response.set_cookie(
            LOGIN_COOKIE, fresh, httponly=True, secure=settings.secure_cookies, samesite="lax"
        )
    return response


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/login")
def login_page(
    request: Request,
    settings: AppSettings,
    _: Annotated[None, Depends(public)],
    next: str = "/",
) -> Response:
    return _login_page(request, settings, {"next": _safe_next(next), "username": ""})


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: Annotated[None, Depends(public)],
    values: SubmittedForm,
) -> Response:
    """Sign in. Refused before the password is looked at when the client address has failed too
    often (per address, in every process: see ``core.web.limits``) or the form's CSRF token is not
    the one issued to this browser; an account's own lock-out is the service's."""
    lang = request.state.lang
    address_key = f"login.address:{_address(request)}"
    wait = limiter_for(request).blocked_for(
        address_key, settings.identity.failed_logins_per_address
    )
    username = str(values.get("username", ""))
    context: dict[str, object] = {
        "next": _safe_next(str(values.get("next", "/"))),
        "username": username,
    }
    if wait:
        message = translate(
            lang,
            "Too many failed sign-ins from your address. Please try again in {minutes} minutes.",
            minutes=max(1, -(-wait // 60)),
        )
        if not wants_html(request):
            raise TooMany(message, retry_after=wait)
        response = _login_page(request, settings, {**context, "error": message}, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    if not check_login_form(request, settings, str(values.get("login_token", ""))):
        message = translate(
            lang,
            "The sign-in form has expired or did not come from this site. Please sign in again.",
        )
        if not wants_html(request):
            raise Forbidden(message, field="login_token")
        return _login_page(request, settings, {**context, "error": message}, 403)
    outcome = service.login(
        session, settings, username, str(values.get("password", "")), ip=_address(request)
    )
    if outcome.principal is None or outcome.token is None:
        if outcome.error in ("wrong_credentials", "locked"):
            limiter_for(request).count(address_key, settings.identity.address_window_minutes * 60)
        if outcome.error == "locked":
            message = translate(
                lang,
                "This account is locked until {until} after repeated failed logins.",
                until=format_time(outcome.locked_until, "%H:%M"),
            )
            status = 423
        elif outcome.error == "inactive":
            message, status = translate(lang, "This account is disabled."), 403
        else:
            message, status = translate(lang, "Wrong username or password."), 401
        return _login_page(request, settings, {**context, "error": message}, status)
    response = RedirectResponse(str(context["next"]), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.token,
        max_age=settings.web.session_hours * 3600,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    service.logout(session, principal, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- users -------------------------------------------------------------------------------------


@router.get("/console/users")
def users_page(
    request: Request, session: DbSession, principal: UsersReader, q: str = ""
) -> Response:
    users = service.get_accessible_users(session, principal, search=q)
    return console.render(request, "identity/users.html", {"users": users, "q": q})


def _unit_choices(session: DbSession, principal: Principal) -> list[tuple[str, str]]:
    units = orgs.list_units(session, active=True)
    if not principal.has_role(Role.platform_admin):
        units = [u for u in units if u.code == principal.unit_code]
    return [(u.code, u.name) for u in units]


def _grantable_roles(principal: Principal) -> list[str]:
    return [
        r.value
        for r in Role
        if principal.has_role(Role.platform_admin) or r is not Role.platform_admin
    ]


@router.get("/console/users/new")
def new_user_page(request: Request, session: DbSession, principal: UsersWriter) -> Response:
    return console.render(
        request,
        "identity/user_form.html",
        {
            "user": None,
            "values": {"unit_code": principal.unit_code, "roles": []},
            "errors": {},
            "units": _unit_choices(session, principal),
            "roles": _grantable_roles(principal),
        },
    )


@router.post("/console/users/new")
def create_user(
    request: Request,
    session: DbSession,
    principal: UsersWriter,
    values: SubmittedForm,
    token: FormToken,
) -> Response:
    roles = values.get("roles", [])
    values["roles"] = roles if isinstance(roles, list) else [roles] if roles else []
    try:
        once = claim(request, session, token)
        data = UserCreate.model_validate(blank_to_none(values, "unit_code"))
        user = service.create_user(session, principal, data)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return console.render(
            request,
            "identity/user_form.html",
            {
                "user": None,
                "values": values,
                "errors": form_errors(exc),
                "units": _unit_choices(session, principal),
                "roles": _grantable_roles(principal),
            },
            422,
        )
    return once.redirect(session, f"/console/users/{user.id}?saved=1")


@router.get("/console/users/{user_id}")
def user_page(
    request: Request, session: DbSession, principal: UsersReader, user_id: Id
) -> Response:
    user = service.get_accessible_user(session, principal, user_id)
    return console.render(
        request,
        "identity/user_form.html",
        {
            "user": user,
            "values": user.model_dump(),
            "errors": {},
            "units": _unit_choices(session, principal),
            "roles": _grantable_roles(principal),
            "can_edit": principal.can(service.USERS_WRITE),
        },
    )


@router.post("/console/users/{user_id}")
def update_user(
    request: Request,
    session: DbSession,
    principal: UsersWriter,
    user_id: Id,
    once: FormOnce,
    values: SubmittedForm,
) -> Response:
    user = service.get_accessible_user(session, principal, user_id)
    roles = values.get("roles", [])
    values["roles"] = roles if isinstance(roles, list) else [roles] if roles else []
    values["active"] = values.get("active") == "on"
    try:
        data = UserUpdate.model_validate(blank_to_none(values, "password", "unit_code"))
        service.update_user(session, principal, user_id, data)
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return console.render(
            request,
            "identity/user_form.html",
            {
                "user": user,
                "values": values,
                "errors": form_errors(exc),
                "units": _unit_choices(session, principal),
                "roles": _grantable_roles(principal),
                "can_edit": True,
            },
            422,
        )
    return once.redirect(session, f"/console/users/{user_id}?saved=1")


@router.post("/console/users/{user_id}/unlock")
def unlock_user(
    request: Request, session: DbSession, principal: UsersWriter, user_id: Id, once: FormOnce
) -> Response:
    service.unlock_user(session, principal, user_id)
    return once.redirect(session, f"/console/users/{user_id}?saved=1")


# --- API keys ----------------------------------------------------------------------------------


def _keys_page(
    request: Request,
    session: DbSession,
    principal: Principal,
    *,
    created: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    keys = service.list_api_keys(session, principal)
    scopes = sorted(p for p in service.PERMISSIONS if principal.can(p))
    return console.render(
        request,
        "identity/keys.html",
        {"keys": keys, "created": created, "errors": errors or {}, "scopes": scopes},
        status,
    )


@router.get("/console/keys")
def keys_page(request: Request, session: DbSession, principal: KeysOwner) -> Response:
    return _keys_page(request, session, principal)


@router.post("/console/keys")
def create_key(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: KeysOwner,
    values: SubmittedForm,
    token: FormToken,
) -> Response:
    scopes = values.get("scopes", [])
    values["scopes"] = scopes if isinstance(scopes, list) else [scopes] if scopes else []
    try:
        once = claim(request, session, token)
        data = ApiKeyCreate.model_validate(blank_to_none(values, "expires_in_days"))
        created = service.create_api_key(session, settings, principal, data)
        once.done(session, "/console/keys")  # the secret is shown once, by this answer only
    except (ValidationError, CitybaseError) as exc:
        undo(session)
        return _keys_page(request, session, principal, errors=form_errors(exc), status=422)
    return _keys_page(request, session, principal, created=created.secret)


@router.post("/console/keys/{key_id}/revoke")
def revoke_key(
    request: Request, session: DbSession, principal: KeysOwner, key_id: Id, once: FormOnce
) -> Response:
    service.revoke_api_key(session, principal, key_id)
    return once.redirect(session, "/console/keys?saved=1")


# --- one's own account -------------------------------------------------------------------------


@router.get("/console/account")
def account_page(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    user = service.get_user(session, principal.user_id)
    return console.render(request, "identity/account.html", {"user": user, "errors": {}})


@router.post("/console/account/password")
def change_password(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    once: FormOnce,
    values: SubmittedForm,
) -> Response:
    try:
        service.change_own_password(
            session,
            principal,
            str(values.get("current_password", "")),
            str(values.get("new_password", "")),
        )
    except CitybaseError as exc:
        undo(session)
        user = service.get_user(session, principal.user_id)
        return console.render(
            request, "identity/account.html", {"user": user, "errors": form_errors(exc)}, 422
        )
    once.done(session, "/login")  # sent again: its session is gone, as the first left it
    response = _login_page(
        request,
        settings,
        {
            "notice": translate(
                request.state.lang, "Password changed. Sign in again with the new one."
            ),
            "next": "/",
            "username": principal.username,
        },
    )
    response.delete_cookie(SESSION_COOKIE)
    return response


add_translations("zh", {
    "you cannot deactivate yourself": "不能停用自己的账号",
    "you cannot take platform_admin from yourself": "不能撤销自己的平台管理员角色",
    "a password is changed from a signed-in session, not with an API key": "密码须在登录后修改，不能用 API 密钥修改",
    "the current password is not right": "当前密码不正确", "use at least 10 characters": "至少使用 10 个字符",
    "choose a password you have not been using": "请选择一个未曾使用过的密码",
    "the form has expired or did not come from this site; reload it": "表单已过期或并非本站签发，请刷新页面",
    "use 3–64 lower-case letters, digits, _ . or -, starting with a letter": "请使用 3–64 位小写字母、数字、_、. 或 -，以字母开头",
})  # fmt: skip


add_patterns("zh", {r"no API key (\S+)": "未找到 API 密钥 {0}", r"no user (\S+)": "未找到用户 {0}"})

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"a delegated key needs permissions held: (.+?)": "委托密钥只能包含本人具有的权限：{0}",
    r"this needs one of the permissions (.+?)": "此操作需要以下权限之一：{0}",
    r"user (.+?) already exists": "用户 {0} 已存在",
    r"unit (.+?) does not exist": "单位 {0} 不存在",
    r"unknown permission (.+?)": "未知权限 {0}",
})  # fmt: skip
add_translations("zh", {
    "the API key is unknown, revoked or expired": "API 密钥不存在、已吊销或已过期",
})  # fmt: skip
