"""E-certificates across their boundaries: nobody, a unit that issues no such type, the issuing
unit's admin (no certificate manager), and another issuing unit's manager try to issue, revoke,
rotate keys and read — through the API and the console. Each is refused, nothing is issued or
revoked, the keys stay as they were, and nothing but sign-ins goes on the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.data.certificates.models import Certificate, CertificateKey
from tests.data.certificates.factories import BIRTH, birth, cert_city, citizen_id
from tests.security.people import act_as, count, ledger_since, ledger_size

API = "/api/v1/certificates"


def _issued(client: TestClient, session: Session) -> dict[str, Any]:
    headers = act_as(client, "healthcert")
    made = client.post(API, json=birth().model_dump(mode="json", exclude_none=True),
                       headers=headers)  # fmt: skip
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("who", [None, "urbancert", "healthadmin", "marketcert", "certaudit"])
def test_no_one_but_the_issuing_units_managers_issues_or_revokes(
    client: TestClient, session: Session, who: str | None, form_token
) -> None:  # type: ignore[no-untyped-def]
    cert_city(session)
    made = _issued(client, session)
    before = (count(session, Certificate), count(session, CertificateKey))
    size = ledger_size(session)
    headers = act_as(client, who)
    body = birth(holder_id=citizen_id(9)).model_dump(mode="json", exclude_none=True)
    expected = 401 if who is None else 403
    assert client.post(API, json=body, headers=headers).status_code == expected
    revoke = client.post(f"{API}/{made['identifier']}/revoke", json={"reason": "越权撤销"},
                         headers=headers)  # fmt: skip
    assert revoke.status_code == expected
    rotated = client.post(f"{API}/keys/rotate", headers=headers)
    if who == "marketcert":  # its own unit's key, not the health commission's
        assert rotated.status_code == 201
        assert rotated.json()["unit_code"] == "fz.market"
        before = (before[0], before[1] + 1)
    else:
        assert rotated.status_code == expected
    form = {"csrf_token": headers.get("X-CSRF-Token", ""), "holder_name": "张三",
            "holder_id": citizen_id(9), "field_sex": "男", "field_birth_date": "2026-11-01",
            "field_mother": "李四", "form_token": form_token()}  # fmt: skip
    page = client.post(f"/console/certificates/issue/{BIRTH}", data=form, follow_redirects=False)
    assert page.status_code in (302, 303, 401, 403)
    assert page.status_code != 303 or "/login" in page.headers["location"]
    revoked = client.post(f"/console/certificates/c/{made['identifier']}/revoke",
                          data={"csrf_token": form["csrf_token"], "reason": "越权"},
                          follow_redirects=False)  # fmt: skip
    assert revoked.status_code != 303 or "error=" in revoked.headers["location"] \
        or "/login" in revoked.headers["location"]  # fmt: skip
    read = client.get(f"{API}/{made['identifier']}")
    assert read.status_code == {None: 401, "certaudit": 200}.get(who, 404 if who in
                                ("urbancert", "marketcert") else 200)  # fmt: skip
    assert (count(session, Certificate), count(session, CertificateKey)) == before
    health = [k for k in client.get(f"{API}/keys").json() if k["unit_code"] == "fz.health"]
    assert [k["key_id"] for k in health] == [made["key_id"]]
    assert health[0]["retired_at"] is None
    own_key = ["certificate_key.create"] if who == "marketcert" else []
    assert ledger_since(session, size) == own_key
    verdict = client.post(f"{API}/verify", json={"payload": made["token"]}).json()
    assert verdict["status"] == "valid"
