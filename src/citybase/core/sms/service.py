"""The SMS gateway (短信网关): the platform's text messages leave through one ``SmsGateway``.

A message is never sent inside the request that asks for it. ``send_sms`` stores it (a row of
``sms_messages``, on the ledger with the number masked) and a stored job (``core.sms.send``) sends
it through the gateway the settings name, trying again with a doubling wait until
``sms.max_attempts`` posts have failed — so a restart, or an SMS platform down for a while,
loses no message.

Gateways, one ``Protocol`` (``SmsGateway``), chosen by ``CITYBASE_SMS__GATEWAY``:

- ``log``: the message is delivered to the SMS log itself — platform admins read it on the
  console (内核 ▸ 短信记录), so that the demo and a city without an SMS platform can be tried
  without a phone;
- ``http``: posted as JSON to the city's SMS platform (``sms.http_url``), through the outbound
  policy (``core/net``: an address inside the city's network must be named in
  ``web.outbound_allow``). Once taken, the message's text is erased and its number masked: the
  platform keeps no copy of what it sent to a phone (sign-in codes among it).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.errors import CitybaseError, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import require_permission
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.net import OutboundPolicy, post
from citybase.core.settings import Settings
from citybase.core.sms import repository
from citybase.core.sms.auth import SMS_LOG_READ
from citybase.core.sms.models import SmsMessage
from citybase.core.sms.schemas import SmsMessageRead

SEND = "core.sms.send"
MOBILE = re.compile(r"^1[3-9]\d{9}$")


class SmsNotSent(CitybaseError):
    status_code = 502
    code = "sms_not_sent"


class SmsGateway(Protocol):
    """Where text messages go. ``send`` returns when the message was taken, and raises
    ``SmsNotSent`` (or any error) when it was not: the job tries again later."""

    name: str

    def send(self, phone: str, text: str) -> None: ...


class LogGateway:
    """Delivers to the SMS log: the stored row is the message, read on the console."""

    name = "log"

    def send(self, phone: str, text: str) -> None:
        return None


class HttpGateway:
    """Posts ``{"phone", "text", "sign"}`` as JSON to the city's SMS platform."""

    name = "http"

    def __init__(self, url: str, token: str, sign: str, policy: OutboundPolicy,
                 timeout: float) -> None:  # fmt: skip
        self.url, self.token, self.sign, self.policy, self.timeout = (
            url, token, sign, policy, timeout)  # fmt: skip

    def send(self, phone: str, text: str) -> None:
        if not self.url:
            raise SmsNotSent("no SMS platform is set (sms.http_url)", field="sms.http_url")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body = json.dumps({"phone": phone, "text": text, "sign": self.sign}, ensure_ascii=False)
        status = post(self.url, body.encode(), headers, self.policy, timeout=self.timeout)
        if not 200 <= status < 300:
            raise SmsNotSent(f"the SMS platform answered {status}", field="sms.http_url")


def gateway_for(settings: Settings) -> SmsGateway:
    sms = settings.sms
    if sms.gateway == "http":
        return HttpGateway(sms.http_url, sms.http_token, sms.sign,
                           OutboundPolicy.parse(settings.web.outbound_allow),
                           sms.timeout_seconds)  # fmt: skip
    return LogGateway()


def mobile(value: str) -> str:
    """A mainland mobile number (11 digits from 13–19), spaces, dashes and +86 taken out."""
    raw = value.strip().replace(" ", "").replace("-", "")
    if raw.startswith("+86"):
        raw = raw[3:]
    if not MOBILE.match(raw):
        raise InvalidInput("not a mobile number: 11 digits starting 13–19", field="phone")
    return raw


def mask(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def send_sms(
    session: Session, settings: Settings, phone: str, text: str, *, purpose: str,
    actor: Actor | None = None,
) -> SmsMessageRead:  # fmt: skip
    """Store a message to ``phone`` and the job that sends it (after the caller commits)."""
    row = SmsMessage(phone=mobile(phone), text=text[:500], purpose=purpose[:40],
                     gateway=settings.sms.gateway, status="queued", attempts=0,
                     last_error="")  # fmt: skip
    repository.add(session, row)
    ledger.record(session, actor or Actor.system("sms"), "sms.queue", object_type="sms",
                  object_id=row.id, details={"phone": mask(row.phone), "purpose": row.purpose,
                                             "gateway": row.gateway})  # fmt: skip
    bus.schedule(session, SEND, payload={"id": row.id}, max_attempts=1)
    return SmsMessageRead.model_validate(row)


def deliver_message(
    session: Session, settings: Settings, message_id: int, gateway: SmsGateway | None = None,
    *, now: datetime | None = None,
) -> SmsMessageRead:  # fmt: skip
    """Send one stored message through the gateway. A failure is kept on the row and the next
    try stored as a job, its wait doubling, until ``sms.max_attempts``: then it is failed."""
    row = repository.get(session, message_id)
    if row is None:
        raise NotFound(f"no message {message_id}", field="id")
    if row.status != "queued":
        return SmsMessageRead.model_validate(row)  # sent (or given up) already
    gateway = gateway or gateway_for(settings)
    now = now or datetime.now(UTC)
    row.attempts += 1
    try:
        gateway.send(row.phone, row.text)
    except Exception as exc:  # any failure of the gateway is one failed attempt, kept
        row.last_error = str(exc)[:300] or type(exc).__name__
        if row.attempts >= settings.sms.max_attempts:
            row.status = "failed"
            ledger.record(session, Actor.system("sms"), "sms.fail", object_type="sms",
                          object_id=row.id, details={"attempts": row.attempts,
                                                     "error": row.last_error})  # fmt: skip
        else:
            wait = settings.sms.retry_seconds * 2 ** (row.attempts - 1)
            bus.schedule(session, SEND, payload={"id": row.id}, max_attempts=1,
                         run_at=now + timedelta(seconds=wait))  # fmt: skip
        session.flush()
        return SmsMessageRead.model_validate(row)
    row.status, row.sent_at, row.last_error, row.gateway = "sent", now, "", gateway.name
    if gateway.name != LogGateway.name:  # the phone has it: the platform keeps no copy
        row.text, row.phone = "", mask(row.phone)
    session.flush()
    return SmsMessageRead.model_validate(row)


def sms_log(
    session: Session, principal: Principal, *, phone: str = "", limit: int = 200
) -> list[SmsMessageRead]:
    """The latest messages, for platform admins only (the log gateway's messages carry the
    sign-in codes it delivered)."""
    require_permission(principal, SMS_LOG_READ)
    wanted = mobile(phone) if phone.strip() else ""
    return [SmsMessageRead.model_validate(r) for r in repository.latest(session, limit=limit,
                                                                        phone=wanted)]  # fmt: skip
