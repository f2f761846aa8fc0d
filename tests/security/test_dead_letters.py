"""Abuse of the dead letters (device messages that could not be stored, with their payloads):
nobody, roles that do not manage devices, and another unit's administrators are refused or see
none of a unit's letters; and nothing is changed by trying."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.telemetry import service
from citybase.perception.telemetry.models import DeadLetter, Reading
from tests.core.identity.factories import make_user, sign_in
from tests.perception.devices.test_telemetry import city

API = "/api/v1/perception/dead-letters"
PAGE = "/console/perception/dead-letters"


def _letters(session: Session) -> list[tuple[int, str, bytes]]:
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(DeadLetter.id, DeadLetter.reason, DeadLetter.payload).order_by(DeadLetter.id))]  # fmt: skip


def _seed(session: Session) -> None:
    city(session)
    service.keep_dead_letter(session, "citybase/wl-1/attrs", b'{"level": 99, "secret": "x"}',
                             "level: 99 is outside the valid range [0.0, 10.0]", "outside",
                             device_id="wl-1", received_at=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip


def test_nobody_and_other_roles_are_refused(client: TestClient, session: Session) -> None:
    _seed(session)
    before = _letters(session)
    assert client.get(API).status_code == 401
    page = client.get(PAGE, follow_redirects=False)
    assert page.status_code in (302, 303, 401)
    assert "secret" not in page.text
    for role in (Role.viewer, Role.hotline_operator, Role.case_handler, Role.auditor):
        make_user(session, role.value, role, unit="fz.water")
        client.cookies.clear()
        token = sign_in(client, role.value)
        answer = client.get(API)
        assert answer.status_code == 403, (role, answer.text)
        assert "secret" not in answer.text
        assert client.get(PAGE).status_code == 403
        # the list cannot be written to or emptied through its route
        for verb in ("post", "put", "delete"):
            tried = getattr(client, verb)(API, headers={"X-CSRF-Token": token})
            assert tried.status_code in (403, 405), (role, verb, tried.status_code)
    assert _letters(session) == before


def test_another_unit_sees_none_of_a_unit_s_letters(client: TestClient, session: Session) -> None:
    _seed(session)
    before = _letters(session)
    make_user(session, "urban", Role.unit_admin, unit="gl.urban")
    token = sign_in(client, "urban")
    answer = client.get(API)
    assert answer.status_code == 200
    assert answer.json() == {"total": 0, "page": 1, "per_page": 50, "items": []}
    assert "secret" not in client.get(PAGE).text
    assert client.delete(API, headers={"X-CSRF-Token": token}).status_code == 405
    assert _letters(session) == before


def test_a_gateway_cannot_report_another_unit_s_devices(
    client: TestClient, session: Session
) -> None:
    city(session)
    make_user(session, "urban", Role.unit_admin, unit="gl.urban")
    token = sign_in(client, "urban")
    readings = session.scalar(select(func.count()).select_from(Reading))
    answer = client.post("/api/v1/perception/readings", headers={"X-CSRF-Token": token}, json=[
        {"device_id": "wl-1", "ts": datetime.now(UTC).isoformat(), "values": {"level": 1.0}}])  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 0
    assert "not yours" in answer.json()["rejected"][0]["reason"]
    assert session.scalar(select(func.count()).select_from(Reading)) == readings


def test_another_unit_cannot_renew_a_device_s_credential(
    client: TestClient, session: Session
) -> None:
    from citybase.perception.devices.models import Device

    city(session)

    def hashes() -> tuple[str, str]:
        row = session.scalars(select(Device).where(Device.device_id == "wl-1")).one()
        session.refresh(row)
        return row.secret_hash, row.broker_hash

    before = hashes()
    assert client.post("/api/v1/perception/devices/wl-1/secret").status_code in (401, 403)
    make_user(session, "urban", Role.unit_admin, unit="gl.urban")
    token = sign_in(client, "urban")
    refused = client.post("/api/v1/perception/devices/wl-1/secret",
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert refused.status_code == 403
    assert "dev_" not in refused.text
    assert hashes() == before
    client.cookies.clear()
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    token = sign_in(client, "water")
    renewed = client.post("/api/v1/perception/devices/wl-1/secret",
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["secret"].startswith("dev_")
    assert hashes() != before
