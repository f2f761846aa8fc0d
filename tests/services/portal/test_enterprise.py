"""企业空间: a citizen signed in on the portal sees the firms whose file names him, by his
citizen ID, as legal representative — and nobody else sees anything of them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.sharing.models import ShareAccess
from tests.core.identity.factories import make_user, sign_in
from tests.data.sharing.factories import citizen_id
from tests.services.onething.factories import onething_city
from tests.services.portal.factories import (
    APPLICATION,
    FIRMS,
    FirmCity,
    enterprise_account,
    firm_city,
)


@pytest.fixture
def firms(session: Session, settings: Settings) -> FirmCity:
    return firm_city(session, settings, onething_city(session, settings))


def _entries(session: Session, action: str) -> list[LedgerEntry]:
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.action == action)))


def test_the_legal_representative_sees_his_firm_and_only_his(
    client: TestClient, session: Session, firms: FirmCity
) -> None:
    sign_in(client, "zhangsan")  # citizen 3: the first firm's legal representative
    mine = client.get("/portal/mine").text
    assert "我的企业" in mine
    assert FIRMS[0][1] in mine
    assert f"/portal/enterprises/{firms.ids[0]}" in mine
    assert FIRMS[1][1] not in mine
    assert FIRMS[2][1] not in mine
    page = client.get(f"/portal/enterprises/{firms.ids[0]}")
    assert page.status_code == 200
    text = page.text
    assert "企业空间" in text
    assert FIRMS[0][1] in text
    assert FIRMS[0][0] in text  # the credit code
    assert "法定代表人证件号码" in text
    assert citizen_id(3) not in text  # the representative's ID only masked
    assert citizen_id(3)[:4] in text
    assert "*" in text
    assert "营业执照" in text
    assert "/certificates/verify?c=" in text
    assert "<svg" in text
    assert APPLICATION in text
    assert "测试一件事" in text
    assert f"/evaluation?kind=application&amp;subject={APPLICATION}" in text  # it may rate it


def test_every_read_of_the_firms_file_is_traced(
    client: TestClient, session: Session, firms: FirmCity
) -> None:
    sign_in(client, "zhangsan")
    before = len(_entries(session, "portal.enterprise.read"))
    assert client.get(f"/portal/enterprises/{firms.ids[0]}").status_code == 200
    reads = _entries(session, "portal.enterprise.read")
    assert len(reads) == before + 1
    assert citizen_id(3) not in str(reads[-1].details)
    logged = session.scalars(select(ShareAccess).order_by(ShareAccess.id.desc())).first()
    assert logged is not None
    assert logged.username == "zhangsan"
    assert "法定代表人" in logged.legal_basis


def test_another_citizen_is_refused_in_chinese_and_sees_nothing_of_the_firm(
    client: TestClient, session: Session, firms: FirmCity
) -> None:
    sign_in(client, "lisi")  # citizen 4: the second firm's representative, not the first's
    mine = client.get("/portal/mine").text
    assert FIRMS[1][1] in mine
    assert FIRMS[0][1] not in mine
    missing = max(firms.ids) + 1000
    answers = [
        client.get(f"/portal/enterprises/{i}") for i in (firms.ids[0], firms.ids[2], missing)
    ]
    for refused in answers:
        assert refused.status_code == 403
        assert "您不是该企业的法定代表人" in refused.text
        for credit, name, *_ in FIRMS:
            assert credit not in refused.text
            assert name not in refused.text
    # a firm that does not exist is answered as one he does not represent
    alerts = [re.search(r'role="alert">([^<]*)<', a.text) for a in answers]
    assert all(alerts)
    assert len({m[1] for m in alerts if m}) == 1
    refusals = _entries(session, "portal.enterprise.refused")
    assert [r.object_id for r in refusals][-3:] == [
        str(i) for i in (firms.ids[0], firms.ids[2], missing)
    ]


def test_an_account_without_a_verified_citizen_id_is_refused(
    client: TestClient, session: Session, settings: Settings, firms: FirmCity
) -> None:
    make_user(session, "unverified", Role.applicant)  # tied to no real-name identity
    sign_in(client, "unverified")
    refused = client.get(f"/portal/enterprises/{firms.ids[0]}")
    assert refused.status_code == 403
    assert "仅完成实名认证的个人" in refused.text
    assert FIRMS[0][1] not in refused.text
    assert "我的企业" not in client.get("/portal/mine").text
    client.cookies.clear()
    enterprise_account(session, settings)  # the firm's own agent: an enterprise, not a person
    sign_in(client, "firmagent")
    refused = client.get(f"/portal/enterprises/{firms.ids[0]}")
    assert refused.status_code == 403
    assert FIRMS[0][0] not in refused.text


def test_anonymous_is_sent_to_sign_in_and_staff_are_not_applicants(
    client: TestClient, session: Session, firms: FirmCity
) -> None:
    anonymous = client.get(f"/portal/enterprises/{firms.ids[0]}", follow_redirects=False)
    assert anonymous.status_code in (303, 401)
    assert FIRMS[0][1] not in anonymous.text
    api = client.get(f"/portal/enterprises/{firms.ids[0]}", headers={"accept": "application/json"})
    assert api.status_code == 401
    assert FIRMS[0][1] not in api.text
    sign_in(client, "bureausteward")  # a steward of the console: no portal page of his own
    staff = client.get(f"/portal/enterprises/{firms.ids[0]}")
    assert staff.status_code == 403
    assert FIRMS[0][1] not in staff.text


def test_bad_ids_get_a_clear_answer_not_a_500(client: TestClient, firms: FirmCity) -> None:
    sign_in(client, "zhangsan")
    for bad in ("abc", "0", "-1", "99999999999999999999999"):
        answer = client.get(f"/portal/enterprises/{bad}")
        assert answer.status_code == 422, (bad, answer.status_code)
