"""Authentication and permission dependencies for routes and console pages.

A request is authenticated by ``Authorization: Bearer <api key>`` or by the console's session
cookie. A cookie-authenticated request that changes state must carry the session's CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``); API keys are not sent by browsers on their
own, so they need none.

The sign-in form has no session yet to hold its token: its token is the HMAC of a random value
the browser keeps in a cookie of its own (a signed double-submit cookie). Another site can make
a browser post the form, but can neither read that cookie nor compute the token for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from citybase.core.errors import Forbidden, NotAuthenticated
from citybase.core.identity import service
from citybase.core.identity.schemas import Principal
from citybase.core.settings import Settings
from citybase.core.web.access import declares_access
from citybase.core.web.deps import SAFE_METHODS, DbSession

SESSION_COOKIE = "citybase_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "citybase_login"


def _login_token_for(settings: Settings, nonce: str) -> str:
    key = hashlib.sha256(b"citybase sign-in form\0" + settings.masking_key.encode()).digest()
    return hmac.new(key, nonce.encode(), hashlib.sha256).hexdigest()


def login_form_token(request: Request, settings: Settings) -> tuple[str, str | None]:
    """The sign-in form's CSRF token, and the cookie value to set when the browser has none."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    fresh = None
    if not 20 <= len(nonce) <= 100:
        nonce = fresh = secrets.token_urlsafe(32)
    return _login_token_for(settings, nonce), fresh


def check_login_form(request: Request, settings: Settings, token: str) -> bool:
    """Whether ``token`` is the one issued with this browser's sign-in cookie."""
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not token:
        return False
    return hmac.compare_digest(_login_token_for(settings, nonce), token)


async def _csrf_token_of(request: Request) -> str | None:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def optional_principal(request: Request, session: DbSession) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    principal: Principal | None = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        principal = service.principal_from_api_key(session, header[7:].strip())
        if principal is None:
            raise NotAuthenticated(
                "the API key is unknown, revoked or expired", field="authorization"
            )
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            principal = service.principal_from_session(session, token)
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if principal.via == "session" and request.method not in SAFE_METHODS:
        if not service.check_csrf(principal, await _csrf_token_of(request)):
            raise Forbidden(
                "the form has expired or did not come from this site; reload it", field="csrf_token"
            )


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


@declares_access("signed in")
async def signed_in(request: Request, principal: OptionalPrincipal) -> Principal:
    """Any signed-in user or valid API key."""
    if principal is None:
        raise NotAuthenticated("sign in or send an API key", field="authorization")
    await _check_csrf(request, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(signed_in)]


def require(permission: str) -> Callable[..., object]:
    """A dependency that admits only principals holding ``permission``."""

    @declares_access(f"permission {permission}")
    async def dependency(principal: CurrentPrincipal) -> Principal:
        service.require_permission(principal, permission)
        return principal

    dependency.__name__ = f"require_{permission.replace(':', '_')}"
    return dependency


def require_any(*permissions: str) -> Callable[..., object]:
    """A dependency that admits principals holding at least one of ``permissions``."""

    @declares_access(f"any of {', '.join(permissions)}")
    async def dependency(principal: CurrentPrincipal) -> Principal:
        if not any(principal.can(p) for p in permissions):
            raise Forbidden(
                f"this needs one of the permissions {', '.join(permissions)}", field="permission"
            )
        return principal

    return dependency
