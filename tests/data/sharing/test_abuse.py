"""Attempts to read shared data one may not: each is refused with a reason and logged."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.grading.schemas import Level
from citybase.data.sharing import repository
from tests.core.identity.factories import make_user, sign_in
from tests.data.sharing.factories import citizen_id, grant_to, shared_city

ISSUE = {"X-Citybase-Issue": "SR202611010001", "X-Citybase-UserId": "li.yisheng",
         "X-Citybase-Purpose": quote("医保稽核")}  # fmt: skip


def _key(client: TestClient, username: str) -> tuple[int, str]:
    csrf = sign_in(client, username)
    made = client.post("/api/v1/keys", json={"name": "稽核系统"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.text
    client.post("/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.clear()
    return made.json()["id"], made.json()["secret"]


@pytest.fixture
def city(client: TestClient, session: Session) -> dict[str, Any]:
    city = shared_city(session, share_type="conditional", level=Level.general_4)
    key_id, secret = _key(client, "healthuser")
    _, other_secret = _key(client, "healthuser")  # a second system, not in the grant
    _, foreign = _key(client, "glreader")
    grant_to(session, city, ["姓名", "性别", "公民身份号码"], keys=[key_id])
    return {"code": city.resource.code, "key": secret, "other": other_secret, "foreign": foreign}


def _get(client: TestClient, path: str, secret: str, **headers: str) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {secret}", **ISSUE, **headers})


def _refusals(session: Session) -> list[str]:
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sharing.read.refused"))
    return [e.details["refusal"] for e in entries]


def test_the_granted_system_reads_masked_rows(client: TestClient, city: dict[str, Any]) -> None:
    r = _get(client, f"/api/v1/sharing/resources/{city['code']}/rows", city["key"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 6
    assert set(body["rows"][0]) == {"姓名", "性别", "公民身份号码"}
    assert body["rows"][0]["公民身份号码"].startswith("P-")
    assert body["masked"] == {"姓名": "keep 1/0", "公民身份号码": "pseudonym"}


def test_the_export_carries_its_k_anonymity(client: TestClient, city: dict[str, Any]) -> None:
    r = _get(client, f"/api/v1/sharing/resources/{city['code']}/export.csv", city["key"])
    assert r.status_code == 200, r.text
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "姓名,公民身份号码,性别"  # in the order of the data items
    assert len(lines) == 7
    assert citizen_id(0) not in r.text
    assert r.headers["X-Citybase-K-Anonymity"].startswith("k=3;")  # 性别: three of each
    assert r.headers["X-Total-Count"] == "6"


@pytest.mark.parametrize(
    ("attempt", "status", "refusal"),
    [
        ("a second key of the unit, not named in the grant", 403, "key_not_granted"),
        ("another unit's key", 403, "no_grant"),
        ("a key that claims another unit", 403, "foreign_key"),
        ("a field outside the grant", 403, "field_not_granted"),
        ("a filter on a field outside the grant", 403, "field_not_granted"),
        ("no case number", 422, "case_number_required"),
        ("a forged case number", 422, "case_number_invalid"),
        ("a system with no end user", 422, "end_user_required"),
        ("a resource that does not exist", 404, "no_resource"),
    ],
)
def test_attempts_are_refused_and_logged(
    client: TestClient, session: Session, city: dict[str, Any], attempt: str, status: int,
    refusal: str,
) -> None:  # fmt: skip
    rows = f"/api/v1/sharing/resources/{city['code']}/rows"
    calls = {
        "a second key of the unit, not named in the grant": lambda: _get(client, rows, city["other"]),
        "another unit's key": lambda: _get(client, rows, city["foreign"]),
        "a key that claims another unit": lambda: _get(
            client, rows, city["foreign"], **{"X-Citybase-Client": "fz.health"}
        ),
        "a field outside the grant": lambda: client.get(
            rows, params={"fields": "住址"},
            headers={"Authorization": f"Bearer {city['key']}", **ISSUE},
        ),
        "a filter on a field outside the grant": lambda: client.get(
            rows, params={"filters": '{"住址": "福州市鼓楼区五四路1号"}'},
            headers={"Authorization": f"Bearer {city['key']}", **ISSUE},
        ),
        "no case number": lambda: _get(client, rows, city["key"], **{"X-Citybase-Issue": ""}),
        "a forged case number": lambda: _get(
            client, rows, city["key"], **{"X-Citybase-Issue": "SR20991231000X"}
        ),
        "a system with no end user": lambda: _get(
            client, rows, city["key"], **{"X-Citybase-UserId": ""}
        ),
        "a resource that does not exist": lambda: _get(
            client, "/api/v1/sharing/resources/NOPE/rows", city["key"]
        ),
    }  # fmt: skip
    r = calls[attempt]()
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == refusal
    assert error["message"]
    # the refusal was committed with the response: it is in the log and on the ledger
    assert _refusals(session) == [refusal]
    logged = repository.accesses_by_ids(session, [error["details"]["access"]])
    assert [(a.outcome, a.refusal) for a in logged] == [("refused", refusal)]


def test_after_expiry_and_revocation(
    client: TestClient, session: Session, city: dict[str, Any]
) -> None:
    from datetime import UTC, datetime, timedelta

    rows = f"/api/v1/sharing/resources/{city['code']}/rows"
    grant = repository.grants(session, unit_code="fz.health")[0]
    grant.valid_until = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    r = _get(client, rows, city["key"])
    assert (r.status_code, r.json()["error"]["code"]) == (403, "grant_expired")
    assert _refusals(session) == ["grant_expired"]


def test_a_viewer_without_the_permission_is_refused_and_logged(
    client: TestClient, session: Session, city: dict[str, Any]
) -> None:
    sign_in(client, "reader")
    r = client.get(f"/api/v1/sharing/resources/{city['code']}/rows", headers=ISSUE)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_permitted")
    assert _refusals(session) == ["not_permitted"]


def test_the_auditor_finds_who_read_a_person(
    client: TestClient, session: Session, city: dict[str, Any]
) -> None:
    _get(client, f"/api/v1/sharing/resources/{city['code']}/rows", city["key"],
         **{"X-Citybase-Purpose": quote("核查参保人员")})  # fmt: skip
    make_user(session, "audit", Role.auditor, unit="fz.bigdata")
    sign_in(client, "audit")
    found = client.get("/api/v1/sharing/accesses", params={"subject": citizen_id(4)}).json()
    assert found["total"] == 1
    hit = found["accesses"][0]
    assert (hit["consumer_unit_code"], hit["end_user"], hit["purpose"], hit["case_number"]) == (
        "fz.health", "li.yisheng", "核查参保人员", "SR202611010001",
    )  # fmt: skip
    assert hit["legal_basis"] == "《社会保险法》第八十七条"
