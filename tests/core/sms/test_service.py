from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus.models import Job
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity.schemas import Role
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.core.sms import service
from citybase.core.sms.models import SmsMessage
from tests.core.identity.factories import make_user, principal_of
from tests.core.sms.factories import DownGateway, RecordingGateway


def _jobs(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.kind == service.SEND)))


def test_a_message_is_stored_with_a_job_and_sent_by_it_not_before(
    session: Session, settings: Settings
) -> None:
    made = service.send_sms(session, settings, "138 0013 0003", "您的验证码为123456", purpose="t")
    assert made.status == "queued"
    assert made.phone == "13800130003"
    assert [j.payload for j in _jobs(session)] == [{"id": made.id}]
    gateway = RecordingGateway()
    sent = service.deliver_message(session, settings, made.id, gateway)
    assert gateway.sent == [("13800130003", "您的验证码为123456")]
    assert sent.status == "sent"
    assert sent.text == ""
    assert sent.phone == "138****0003"
    again = service.deliver_message(session, settings, made.id, gateway)  # a job run twice
    assert again.status == "sent"
    assert len(gateway.sent) == 1
    entry = session.scalars(select(LedgerEntry).where(LedgerEntry.action == "sms.queue")).one()
    assert "13800130003" not in str(entry.details)


def test_the_log_gateway_keeps_the_text_for_the_admins(
    session: Session, settings: Settings
) -> None:
    made = service.send_sms(session, settings, "13800130003", "验证码 654321", purpose="t")
    sent = service.deliver_message(session, settings, made.id)
    assert (sent.status, sent.gateway, sent.text) == ("sent", "log", "验证码 654321")
    make_user(session, "root", Role.platform_admin)
    make_user(session, "someone", Role.applicant)
    assert [m.text for m in service.sms_log(session, principal_of(session, "root"))] == [
        "验证码 654321"
    ]
    with pytest.raises(Forbidden):
        service.sms_log(session, principal_of(session, "someone"))


def test_a_failed_send_is_tried_again_later_then_given_up(
    session: Session, settings: Settings
) -> None:
    settings.sms.max_attempts = 3
    made = service.send_sms(session, settings, "13800130003", "x", purpose="t")
    now = datetime.now(UTC) + timedelta(days=1)  # after the first job's time
    for attempt in (1, 2):
        kept = service.deliver_message(session, settings, made.id, DownGateway(), now=now)
        assert (kept.status, kept.attempts) == ("queued", attempt)
        assert "503" in kept.last_error
    waits = sorted((j.run_at - now).total_seconds() for j in _jobs(session) if j.run_at > now)
    assert waits == [settings.sms.retry_seconds, settings.sms.retry_seconds * 2]
    given_up = service.deliver_message(session, settings, made.id, DownGateway(), now=now)
    assert (given_up.status, given_up.attempts) == ("failed", 3)
    assert session.get(SmsMessage, made.id).text == "x"  # never taken: nothing erased


def test_the_http_gateway_goes_through_the_outbound_policy(
    session: Session, settings: Settings
) -> None:
    settings.sms.gateway = "http"
    settings.sms.http_url = "http://127.0.0.1:9/sms"  # loopback, not allowed: refused, not called
    made = service.send_sms(session, settings, "13800130003", "x", purpose="t")
    kept = service.deliver_message(session, settings, made.id)
    assert kept.status == "queued"
    assert kept.attempts == 1
    assert kept.last_error


def test_only_mobile_numbers_are_sent_to(session: Session, settings: Settings) -> None:
    with pytest.raises(InvalidInput):
        service.send_sms(session, settings, "0591-87654321", "x", purpose="t")
