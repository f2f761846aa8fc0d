"""Form tokens (表单令牌): a form that makes something may be sent twice (a double click, a
reload, a retry on a slow network) and still make it once.

Every form that creates, edits or decides something carries a hidden ``form_token``, issued when the page is drawn:
a random nonce and the time, signed (HMAC-SHA256) under a key derived from the masking key, which
every server of a cluster shares — so drawing a form writes nothing, and a form drawn by one server
is taken by another. On submission ``claim`` checks the signature and age, then records the nonce's
hash in ``web_spent_form_tokens`` in the request's own transaction, before anything is made. The
table's primary key makes a second submission of the same token (even a concurrent one, in another
process) find the first: it is answered with ``AlreadySent``, which the console turns into a
redirect to the first submission's result (``Once.done`` records it), and makes nothing. A
submission that fails is rolled back with its claim, so the corrected form can be sent again.
Edit and decision forms (approve, refuse, sign, handle, review…) take the claim as a route
dependency, ``Once`` (``once: FormOnce``): the token is read on the event loop and claimed in the
route's thread, before the route runs, and the route returns ``once.redirect(session, url)``;
so a decision sent twice is made once and the second sending lands where the first did.
A missing, forged or expired token is refused as an error of the whole form (field ``form``,
which every form shows) with a message saying to reload.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from citybase.core.db.base import utcnow
from citybase.core.errors import InvalidInput
from citybase.core.settings import Settings
from citybase.core.web import repository
from citybase.core.web.deps import DbSession

FIELD = "form_token"
TTL = 86400  # a form left open a working day can still be sent
PRUNE_EVERY = 200  # on average, one claim in this many drops the tokens past their age

MISSING = "this form has expired or was not issued here: reload the page and send it again"


class AlreadySent(Exception):
    """The form was sent before with this token; ``result`` is where its result is shown ("" when
    the first submission is still under way or showed its result in place)."""

    def __init__(self, result: str) -> None:
        super().__init__(result)
        self.result = result


def _key(settings: Settings) -> bytes:
    return hashlib.sha256(b"citybase form token\0" + settings.masking_key.encode()).digest()


def _sign(settings: Settings, body: str) -> str:
    return hmac.new(_key(settings), body.encode(), hashlib.sha256).hexdigest()[:32]


def issue(settings: Settings, now: float | None = None) -> str:
    """A fresh token for one form."""
    body = f"{secrets.token_urlsafe(18)}.{int(time.time() if now is None else now)}"
    return f"{body}.{_sign(settings, body)}"


def hidden_field(settings: Settings) -> Markup:
    """The hidden input a template puts in a form that makes something (``{{ form_token() }}``)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        FIELD, escape(issue(settings))
    )


def digest_of(settings: Settings, token: str, now: float | None = None) -> str:
    """The hash under which a valid token is recorded; InvalidInput when it is not one of ours
    or is too old."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise InvalidInput(MISSING, field="form")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sign(settings, body), parts[2]):
        raise InvalidInput(MISSING, field="form")
    age = (time.time() if now is None else now) - int(parts[1])
    if not -300 <= age <= TTL:
        raise InvalidInput(MISSING, field="form")
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Once:
    """A claimed token: call ``done`` (or ``redirect``) with where the result is shown."""

    digest: str

    def done(self, session: Session, result: str) -> None:
        repository.set_result(session, self.digest, result[:500])

    def redirect(self, session: Session, url: str) -> RedirectResponse:
        self.done(session, url)
        return RedirectResponse(url, status_code=303)


def claim_token(session: Session, settings: Settings, token: str) -> Once:
    """Spend ``token`` in the current transaction; AlreadySent when it was spent before."""
    digest = digest_of(settings, token)
    earlier = repository.spent(session, digest)
    if earlier is None:
        now = utcnow()
        if secrets.randbelow(PRUNE_EVERY) == 0:
            repository.prune(session, now - timedelta(seconds=2 * TTL))
        if repository.spend(session, digest, now):
            return Once(digest)
        session.expire_all()
        earlier = repository.spent(session, digest)
    raise AlreadySent(earlier.result if earlier is not None else "")


async def _submitted_token(request: Request) -> str:
    form = await request.form()
    token = form.get(FIELD)
    return token if isinstance(token, str) else ""


# The submitted form's token, read on the event loop before the route runs (see ``claim``).
FormToken = Annotated[str, Depends(_submitted_token)]


def claim(request: Request, session: Session, token: str) -> Once:
    """Spend the token the submitted form carries (``token: FormToken``; see the module's
    docstring), where the route chooses: a route that shows a refused token beside the form's
    other errors claims it inside its own ``try``."""
    settings: Settings = request.app.state.settings
    return claim_token(session, settings, token)


def claim_submitted(request: Request, session: DbSession, token: FormToken) -> Once:
    """The route dependency behind ``FormOnce``: spend the submitted form's token (a plain
    ``def``, so that the write waits in a thread, never on the event loop)."""
    return claim(request, session, token)


FormOnce = Annotated[Once, Depends(claim_submitted)]


def _reference_mac(settings: Settings, value: str) -> str:
    key = hashlib.sha256(b"citybase form reference\0" + settings.masking_key.encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def seal_reference(settings: Settings, value: str) -> str:
    """``value`` (a kept file's id) signed, for a hidden field of a form drawn again after an
    error: the form hands back what it was given, and nothing else."""
    return f"{value}.{_reference_mac(settings, value)}"


def open_reference(settings: Settings, sealed: str) -> str | None:
    """The value a ``seal_reference`` holds; None when it is not one of ours."""
    value, _, mac = sealed.rpartition(".")
    if not value or not hmac.compare_digest(_reference_mac(settings, value), mac):
        return None
    return value
