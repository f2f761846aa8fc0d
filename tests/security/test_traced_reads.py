"""Every read of personal data on the console is the one traced read: the same ledger entry and
access-log row as the API's (who, for which unit, what, why) — the provider's own staff and the
platform's admins included — and a reader who may not see the data gets none of it, and leaves
no trace of a read that did not happen."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.models import LedgerEntry
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.settings import Settings
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.models import ShareAccess
from citybase.data.sharing.schemas import AccessFilter, AccessRead
from tests.core.identity.factories import make_user, principal_of, sign_in
from tests.data.sharing.factories import NAMES, citizen_id, shared_city
from tests.hub.cases.factories import city

ROAD = {
    "reporter_name": "林小明", "reporter_phone": "13805911234",
    "text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区",
    "category_code": "010202",
}  # fmt: skip


def _as(client: TestClient, user: str) -> str:
    client.cookies.clear()
    return sign_in(client, user)


def _counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        session.scalar(select(func.count()).select_from(ShareAccess)) or 0,
    )


def _audited(session: Session, settings: Settings, **flt: Any) -> list[AccessRead]:
    """The reads an auditor finds in the access log."""
    auditor = principal_of(session, "auditor")
    keys = ops.keys_for(settings.masking_key)
    return access.find_accesses(session, auditor, AccessFilter(**flt), keys).accesses


def _entry(session: Session, seq: int) -> Any:
    entries, _ = ledger.find_entries(session, LedgerFilter(limit=500))
    return next(e for e in entries if e.seq == seq)


def test_the_provider_reading_its_own_rows_on_the_console_is_traced(
    client: TestClient, session: Session, settings: Settings
) -> None:
    shared = shared_city(session, level=Level.general_4)
    make_user(session, "auditor", Role.auditor, unit="fz.bigdata")
    code = shared.resource.code
    _as(client, "urbansteward")
    page = client.get(f"/console/catalog/{code}/rows", params={"why": "核对当事人信息"})
    assert page.status_code == 200
    assert citizen_id(0) in page.text  # the provider reads its own rows in the clear
    [read] = _audited(session, settings, resource=code)
    assert (read.username, read.consumer_unit_code, read.provider_unit_code) == (
        "urbansteward", "fz.urban", "fz.urban",
    )  # fmt: skip
    assert (read.operation, read.outcome.value, read.purpose, read.legal_basis) == (
        "own", "allowed", "核对当事人信息", access.OWN_DATA_BASIS,
    )  # fmt: skip
    assert (read.rows, read.subjects) == (6, 6)
    entry = _entry(session, read.ledger_seq)
    assert (entry.action, entry.actor, entry.actor_unit, entry.object_id, entry.reason) == (
        "sharing.read", "urbansteward", "fz.urban", code, "核对当事人信息",
    )  # fmt: skip
    assert entry.details["operation"] == "own"
    assert entry.details["legal_basis"] == access.OWN_DATA_BASIS
    # the auditor finds it by the data subject too, and on the console's access search
    assert [a.id for a in _audited(session, settings, subject=citizen_id(3))] == [read.id]
    _as(client, "auditor")
    audit_page = client.get("/console/sharing/access", params={"resource": code})
    assert audit_page.status_code == 200
    assert "urbansteward" in audit_page.text
    assert "核对当事人信息" in audit_page.text


def test_the_api_and_the_console_write_the_same_trace(
    client: TestClient, session: Session, settings: Settings
) -> None:
    shared = shared_city(session, level=Level.general_4)
    make_user(session, "auditor", Role.auditor, unit="fz.bigdata")
    code = shared.resource.code
    _as(client, "urbansteward")
    api = client.get(f"/api/v1/catalog/resources/{code}/rows", params={"limit": 2},
                     headers={"X-Citybase-Purpose": "%E6%A0%B8%E5%AF%B9"})  # fmt: skip
    assert api.status_code == 200, api.text
    assert len(api.json()["rows"]) == 2
    client.get(f"/console/catalog/{code}/rows", params={"why": "核对"})
    api_read, console_read = sorted(_audited(session, settings, resource=code), key=lambda a: a.id)
    assert api.headers["X-Citybase-Access"] == str(api_read.id)
    shape = ("username", "consumer_unit_code", "provider_unit_code", "operation", "purpose",
             "legal_basis", "outcome")  # fmt: skip
    assert [getattr(api_read, f) for f in shape] == [getattr(console_read, f) for f in shape]
    assert (api_read.rows, console_read.rows) == (2, 6)
    api_entry = _entry(session, api_read.ledger_seq)
    console_entry = _entry(session, console_read.ledger_seq)
    assert (api_entry.action, api_entry.reason) == (console_entry.action, console_entry.reason)


def test_a_platform_admin_reading_a_units_rows_is_traced(
    client: TestClient, session: Session, settings: Settings
) -> None:
    shared = shared_city(session, level=Level.general_4)
    make_user(session, "auditor", Role.auditor, unit="fz.bigdata")
    code = shared.resource.code
    _as(client, "root")
    page = client.get(f"/console/catalog/{code}/rows", params={"why": "平台巡检"})
    assert citizen_id(1) in page.text
    [read] = _audited(session, settings, resource=code)
    assert (read.username, read.provider_unit_code, read.legal_basis, read.purpose) == (
        "root", "fz.urban", access.PLATFORM_BASIS, "平台巡检",
    )  # fmt: skip
    assert _entry(session, read.ledger_seq).action == "sharing.read"


def test_a_unit_without_a_grant_sees_nothing_and_no_read_is_logged(
    client: TestClient, session: Session, settings: Settings
) -> None:
    shared = shared_city(session, level=Level.general_4)
    code = shared.resource.code
    before = _counts(session)
    for who in ("glreader", "healthuser", "reader"):  # other units' readers, none granted
        _as(client, who)
        page = client.get(f"/console/catalog/{code}/rows", params={"why": "看看"})
        assert page.status_code in (200, 403, 404)
        for i in range(6):
            assert citizen_id(i) not in page.text
            assert f"1380013{i:04d}" not in page.text
        assert not any(name in page.text for name in NAMES)
        api = client.get(f"/api/v1/catalog/resources/{code}/rows")
        assert api.status_code in (403, 404)
        assert citizen_id(0) not in api.text
    # signing in is on the ledger; no read is, and the access log holds nothing
    reads, _ = ledger.find_entries(session, LedgerFilter(action="sharing.read"))
    assert reads == []
    assert _counts(session)[1] == before[1]


def _case(client: TestClient) -> str:
    taken = client.post("/api/v1/hub/cases", json=ROAD,
                        headers={"X-CSRF-Token": _as(client, "operator")})  # fmt: skip
    assert taken.status_code == 201, taken.text
    number: str = taken.json()["case"]["number"]
    return number


def test_the_case_contact_on_the_case_page_is_the_traced_read(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    make_user(session, "auditor", Role.auditor, unit="fz.bigdata")
    number = _case(client)
    for who in ("operator", "gl.handler"):
        csrf = _as(client, who)
        page = client.get(f"/console/hub/cases/{number}")
        assert page.status_code == 200
        assert "13805911234" not in page.text  # masked until someone says why
        assert "138****1234" in page.text
        shown = client.post(f"/console/hub/cases/{number}/contact",
                            data={"csrf_token": csrf, "why": f"回访诉求人（{who}）"})  # fmt: skip
        assert shown.status_code == 200, shown.text
        assert "13805911234" in shown.text
        assert "林小明" in shown.text
    api = client.post(f"/api/v1/hub/cases/{number}/contact", params={"why": "回访"},
                      headers={"X-CSRF-Token": _as(client, "operator")})  # fmt: skip
    assert api.json()["reporter_phone"] == "13805911234"

    reads = sorted(_audited(session, settings, case_number=number), key=lambda a: a.id)
    assert [(a.username, a.consumer_unit_code, a.purpose) for a in reads] == [
        ("operator", "fz.hotline", "回访诉求人（operator）"),
        ("gl.handler", "gl.urban", "回访诉求人（gl.handler）"),
        ("operator", "fz.hotline", "回访"),
    ]
    for read in reads:
        assert (read.operation, read.resource_code, read.outcome.value) == (
            "contact", number, "allowed",
        )  # fmt: skip
        assert read.fields == ["reporter_name", "reporter_phone"]
        entry = _entry(session, read.ledger_seq)
        assert (entry.action, entry.object_type, entry.object_id, entry.case_number) == (
            "hub.case.contact_viewed", "case", number, number,
        )  # fmt: skip
        assert (entry.actor, entry.actor_unit, entry.reason) == (
            read.username, read.consumer_unit_code, read.purpose,
        )  # fmt: skip
    # the auditor sees them on the console's access search
    _as(client, "auditor")
    assert (
        "回访诉求人（gl.handler）"
        in client.get("/console/sharing/access", params={"case_number": number}).text
    )


def test_no_contact_for_a_reader_who_may_not_see_it(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city(session)
    make_user(session, "auditor", Role.auditor, unit="fz.bigdata")
    make_user(session, "viewer", Role.viewer, unit="fz.bigdata")
    number = _case(client)
    before = _counts(session)
    # a handler of another district's unit, a supervisor's colleague with no contact right, a
    # reason left out: no phone in the page, and nothing traced
    attempts = [("tj.handler", "回访"), ("auditor", "回访"), ("viewer", "回访"),
                ("operator", "  ")]  # fmt: skip
    for who, why in attempts:
        csrf = _as(client, who)
        answer = client.post(f"/console/hub/cases/{number}/contact",
                             data={"csrf_token": csrf, "why": why})  # fmt: skip
        assert answer.status_code in (403, 404, 422), (who, answer.status_code)
        assert "13805911234" not in answer.text
        assert "林小明" not in answer.text
        page = client.get(f"/console/hub/cases/{number}")
        assert "13805911234" not in page.text
    after = _counts(session)
    assert after[1] == before[1]  # no access-log row
    contact_entries, _ = ledger.find_entries(
        session, LedgerFilter(action="hub.case.contact_viewed")
    )
    assert contact_entries == []


def test_a_bad_question_is_refused_before_anything_is_read(
    client: TestClient, session: Session
) -> None:
    shared = shared_city(session, level=Level.general_4)
    url = f"/api/v1/catalog/resources/{shared.resource.code}/rows"
    _as(client, "urbansteward")
    before = _counts(session)
    unknown = client.get(url, params={"fields": "姓名,不存在的列"})
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (422, "fields")
    bad_case = client.get(url, headers={"X-Citybase-Issue": "not-a-case"})
    assert (bad_case.status_code, bad_case.json()["error"]["field"]) == (422, "X-Citybase-Issue")
    for answer in (unknown, bad_case):
        assert citizen_id(0) not in answer.text
    assert _counts(session)[1] == before[1]
