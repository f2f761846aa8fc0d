"""Another unit's shared rows, read or changed without a grant, with an expired grant and with a
revoked one — through the API (the traced read, the export, the provider's own rows) and the
console — as every role of another unit and as nobody. Each is refused, the rows and grants stay
as they were, and the only thing written is the refusal's own trace."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.data.datastore.models import DataRow
from citybase.data.grading.schemas import Level
from citybase.data.sharing import repository
from citybase.data.sharing import service as sharing
from citybase.data.sharing.models import ShareGrant, ShareRequest
from citybase.data.sharing.schemas import Revocation
from tests.core.identity.factories import make_user
from tests.data.sharing.factories import grant_to, shared_city
from tests.security.people import act_as, ledger_since, ledger_size

ISSUE = {"X-Citybase-Issue": "SR202611010001", "X-Citybase-UserId": "li.yisheng",
         "X-Citybase-Purpose": quote("医保稽核")}  # fmt: skip
# one of each role, in 鼓楼区城管局: a unit with no grant on the resource
OUTSIDERS = {f"gl.{role.value}": role for role in Role if role is not Role.platform_admin}
GRANTED = ["姓名", "性别"]


@pytest.fixture
def city(session: Session) -> dict[str, Any]:
    made = shared_city(session, share_type="conditional", level=Level.general_4)
    for username, role in OUTSIDERS.items():
        make_user(session, username, role, unit="gl.urban")
    grant_to(session, made, GRANTED)
    return {"code": made.resource.code, "city": made}


def _rows(session: Session) -> str:
    """A digest of every stored row of every table, read afresh."""
    session.expire_all()
    cells = session.scalars(select(DataRow.cells).order_by(DataRow.id)).all()
    return hashlib.sha256(json.dumps(cells, sort_keys=True, default=str).encode()).hexdigest()


def _grants(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [(g.id, g.consumer_unit_code, g.valid_until, g.revoked_at, tuple(g.fields))
            for g in session.scalars(select(ShareGrant).order_by(ShareGrant.id))]  # fmt: skip


def _requests(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [(r.number, r.status) for r in session.scalars(select(ShareRequest))]


def _snapshot(session: Session) -> tuple[Any, ...]:
    return _rows(session), _grants(session), _requests(session)


def _attempts(client: TestClient, code: str, headers: dict[str, str]) -> list[Any]:
    """Every way to read or change the rows, through the API and the console."""
    write = {**headers, "Accept": "application/json"}
    csv = ("x.csv", "姓名,性别\n张三,男\n".encode(), "text/csv")
    return [
        ("shared rows", client.get(f"/api/v1/sharing/resources/{code}/rows", headers=ISSUE)),
        ("shared rows, a field", client.get(f"/api/v1/sharing/resources/{code}/rows",
                                            params={"fields": "姓名"}, headers=ISSUE)),
        ("export", client.get(f"/api/v1/sharing/resources/{code}/export.csv", headers=ISSUE)),
        ("own rows", client.get(f"/api/v1/catalog/resources/{code}/rows")),
        ("replace rows", client.post(f"/api/v1/catalog/resources/{code}/rows", headers=write,
                                     json={"rows": [{"姓名": "张三", "性别": "男"}]})),
        ("upload rows", client.put(f"/api/v1/catalog/resources/{code}/rows", headers=write,
                                   files={"file": csv})),
        ("delete rows", client.delete(f"/api/v1/catalog/resources/{code}/rows", headers=write)),
        ("console rows", client.get(f"/console/catalog/{code}/rows",
                                    headers={"Accept": "text/html"})),
        ("console upload", client.post(f"/console/catalog/{code}/rows", files={"file": csv},
                                       headers={**headers, "Accept": "text/html"})),
    ]  # fmt: skip


def _refused(attempts: list[Any], *, nobody: bool = False) -> None:
    for what, r in attempts:
        if what.startswith("console") and r.status_code == 200:
            # the console's rows page tells the reader rows go to the provider only
            assert "张伟" not in r.text, what
            assert "五四路" not in r.text, what
            continue
        if what == "console upload" and r.status_code == 422:
            # the page again, with the refusal next to the file field (not a 403: see the report)
            assert "张伟" not in r.text, what
            continue
        if nobody and what.startswith("console"):
            assert (r.status_code, r.headers["location"].split("?")[0]) == (303, "/login"), what
            continue
        assert r.status_code in ((401,) if nobody else (403, 404)), (what, r.status_code, r.text)
        assert "张伟" not in r.text, what
        assert "1380013" not in r.text, what


@pytest.mark.parametrize("who", [*OUTSIDERS, "urbansteward-of-another-unit", None])
def test_without_a_grant(
    client: TestClient, session: Session, city: dict[str, Any], who: str | None
) -> None:
    if who == "urbansteward-of-another-unit":
        who = "bureausteward"  # a steward of the big-data bureau, not the providing unit
    before, size = _snapshot(session), ledger_size(session)
    headers = act_as(client, who)
    _refused(_attempts(client, city["code"], headers), nobody=who is None)
    assert _snapshot(session) == before
    # a refused read of shared data is itself traced; nothing else is written
    assert set(ledger_since(session, size)) <= {"sharing.read.refused"}


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_a_grant_that_ended(
    client: TestClient, session: Session, city: dict[str, Any], how: str
) -> None:
    grant = repository.grants(session, unit_code="fz.health")[0]
    headers = act_as(client, "healthuser")
    ok = client.get(f"/api/v1/sharing/resources/{city['code']}/rows", headers=ISSUE)
    assert ok.status_code == 200, ok.text  # in force, it reads
    if how == "expired":
        grant.valid_until = datetime.now(UTC) - timedelta(seconds=1)
        session.flush()
    else:
        sharing.revoke(session, city["city"].people["urbansteward"], grant.id,
                       Revocation(reason="停止合作"))  # fmt: skip
    before, size = _snapshot(session), ledger_size(session)
    attempts = _attempts(client, city["code"], headers)
    _refused(attempts)
    reads = {what: r for what, r in attempts if what in ("shared rows", "export")}
    for what, r in reads.items():
        assert r.json()["error"]["code"] == f"grant_{how}", what
    assert _snapshot(session) == before
    assert set(ledger_since(session, size)) == {"sharing.read.refused"}
    # and a new request must be decided again: the ended grant is not brought back by asking
    asked = client.post("/api/v1/sharing/requests", headers=headers, json={
        "resource_code": city["code"], "purpose": "核查参保人员违法记录", "legal_basis": "《社会保险法》",
        "fields": GRANTED, "days": 30})  # fmt: skip
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    again = client.get(f"/api/v1/sharing/resources/{city['code']}/rows", headers=ISSUE)
    assert again.status_code == 403


@pytest.mark.parametrize("who", ["glreader", "gl.data_steward", "gl.unit_admin", "healthuser",
                                 "bureausteward", None])  # fmt: skip
def test_grants_and_requests_are_decided_by_the_provider_only(
    client: TestClient, session: Session, city: dict[str, Any], who: str | None, form_token: Any
) -> None:
    """Revoking another unit's grant, deciding or withdrawing its request: refused, unchanged."""
    pending = sharing.request_share(session, city["city"].stranger, sharing_request(city["code"]))
    grant = repository.grants(session, unit_code="fz.health")[0]
    before, size = _snapshot(session), ledger_size(session)
    headers = act_as(client, who)
    status = (401,) if who is None else (403, 404)
    calls = [
        client.post(f"/api/v1/sharing/grants/{grant.id}/revoke", json={"reason": "x"},
                    headers=headers),
        client.post(f"/api/v1/sharing/requests/{pending.number}/decision",
                    json={"approve": True}, headers=headers),
        client.post(f"/console/sharing/grants/{grant.id}/revoke",
                    data={"reason": "x", "form_token": form_token()},
                    headers=headers, follow_redirects=False),
        client.post(f"/console/sharing/requests/{pending.number}",
                    data={"decision": "approve", "form_token": form_token()},
                    headers=headers, follow_redirects=False),
    ]  # fmt: skip
    if who not in ("glreader", "gl.data_steward", "gl.unit_admin"):  # the asking unit may
        # withdraw its own request; no other unit may
        calls.append(client.post(f"/api/v1/sharing/requests/{pending.number}/withdraw",
                                 headers=headers))  # fmt: skip
        calls.append(client.post(f"/console/sharing/requests/{pending.number}/withdraw",
                                 data={"form_token": form_token()}, headers=headers,
                                 follow_redirects=False))  # fmt: skip
    for r in calls:
        assert r.status_code in status or (who is not None and r.status_code == 422), (
            r.request.url, r.status_code, r.text[:200])  # fmt: skip
    assert _snapshot(session) == before
    assert ledger_since(session, size) == []


def sharing_request(code: str) -> Any:
    from citybase.data.sharing.schemas import RequestCreate

    return RequestCreate(resource_code=code, purpose="核查违法记录", legal_basis="《行政处罚法》",
                         fields=GRANTED, days=30)  # fmt: skip
