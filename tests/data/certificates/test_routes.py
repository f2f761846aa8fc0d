"""E-certificates through HTTP: nobody issues or revokes anonymously, a unit cannot issue or revoke
as another, errors in the API's format naming the field, the public verification page and keys,
the QR code, the console pages in Chinese, and the holder's look-up."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.certificates import signing
from citybase.data.certificates.models import Certificate
from tests.core.identity.factories import sign_in
from tests.data.certificates.factories import birth, cert_city, citizen_id, licence

API = "/api/v1/certificates"


def _body(data: Any) -> dict[str, Any]:
    return data.model_dump(mode="json", exclude_none=True)  # type: ignore[no-any-return]


def _issue(client: TestClient, data: Any) -> dict[str, Any]:
    made = client.post(API, json=_body(data))
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Certificate)) or 0


def test_anonymous_callers_neither_issue_nor_read(client: TestClient, session: Session) -> None:
    cert_city(session)
    assert client.post(API, json=_body(birth())).status_code == 401
    assert client.get(API).status_code == 401
    assert client.post(f"{API}/keys/rotate").status_code == 401
    assert client.post(f"{API}/x/revoke", json={"reason": "不需要"}).status_code == 401
    assert client.get("/console/certificates", follow_redirects=False).status_code in (
        302,
        303,
        401,
    )
    assert _count(session) == 0
    assert client.get(f"{API}/types").status_code == 200  # public: no personal data
    assert client.get(f"{API}/keys").status_code == 200


def test_a_unit_cannot_issue_or_revoke_as_another(client: TestClient, session: Session) -> None:
    cert_city(session)
    client.headers["X-CSRF-Token"] = sign_in(client, "healthcert")
    made = _issue(client, birth())
    refused = client.post(API, json=_body(licence()))  # the market regulator's type
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "type_code"
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "marketcert")
    revoke = client.post(f"{API}/{made['identifier']}/revoke", json={"reason": "越权撤销"})
    assert revoke.status_code == 403
    assert client.get(f"{API}/{made['identifier']}").status_code == 404  # not its unit's
    assert client.get(API).json() == []
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthadmin")  # reads, but issues nothing
    assert client.post(API, json=_body(birth())).status_code == 403
    assert [c["identifier"] for c in client.get(API).json()] == [made["identifier"]]
    assert _count(session) == 1
    verdict = client.post(f"{API}/verify", json={"payload": made["token"]}).json()
    assert verdict["status"] == "valid"


def test_bad_input_names_the_field(client: TestClient, session: Session) -> None:
    cert_city(session)
    client.headers["X-CSRF-Token"] = sign_in(client, "healthcert")
    bad = client.post(API, json=_body(birth(holder_id="350102199001010012")))
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "holder_id"
    body = _body(birth())
    body["fields"]["sex"] = "未知"
    choice = client.post(API, json=body)
    assert choice.status_code == 422
    assert choice.json()["error"]["field"] == "fields.sex"
    missing = client.post(API, json={"type_code": "x"})
    assert missing.status_code == 422
    assert "error" in missing.json()
    assert _count(session) == 0


def test_revocation_and_the_public_verification_page(client: TestClient, session: Session) -> None:
    cert_city(session)
    client.headers["X-CSRF-Token"] = sign_in(client, "healthcert")
    made = _issue(client, birth())
    qr = client.get(f"{API}/{made['identifier']}/qr.svg")
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in qr.text
    assert "<script" not in qr.text
    revoked = client.post(f"{API}/{made['identifier']}/revoke", json={"reason": "登记有误"})
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "revoked"
    client.cookies.clear()
    del client.headers["X-CSRF-Token"]
    page = client.get("/certificates/verify", params={"c": made["token"]})
    assert page.status_code == 200
    assert "证照已撤销" in page.text
    assert "登记有误" in page.text
    token = signing.read_token(made["token"])
    forged = signing.make_token(
        signing.canonical(dict(token.payload, holder="李四")), token.signature
    )
    posted = client.post("/certificates/verify", data={"payload": forged})
    assert posted.status_code == 200
    assert "疑似伪造" in posted.text
    assert "李四" not in posted.text  # a forgery's claims are not shown as facts
    api = client.post(f"{API}/verify", json={"payload": "nonsense"}).json()
    assert api["status"] == "malformed"
    keys = client.get(f"{API}/keys").json()
    assert [k["key_id"] for k in keys] == [made["key_id"]]
    assert len(keys[0]["public_key"]) == 130


def test_console_pages_in_chinese(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    city = cert_city(session)
    del city
    token = sign_in(client, "healthcert")
    listing = client.get("/console/certificates")
    assert listing.status_code == 200
    assert "签发证照" in listing.text
    assert "出生医学证明" in listing.text
    from tests.data.certificates.factories import BIRTH

    form = client.get(f"/console/certificates/issue/{BIRTH}")
    assert "母亲姓名" in form.text
    fields = {"csrf_token": token, "holder_name": "林小雨", "holder_id": citizen_id(1),
              "field_sex": "女", "field_birth_date": "2026-11-30", "field_mother": "",
              "form_token": form_token()}  # fmt: skip
    refused = client.post(f"/console/certificates/issue/{BIRTH}", data=fields)
    assert refused.status_code == 422
    assert "母亲姓名为必填项" in refused.text
    fields["field_mother"] = "陈静"
    made = client.post(f"/console/certificates/issue/{BIRTH}", data=fields,
                       follow_redirects=False)  # fmt: skip
    assert made.status_code == 303, made.text
    issued = _count(session)
    again = client.post(f"/console/certificates/issue/{BIRTH}", data=fields,
                        follow_redirects=False)  # fmt: skip
    assert again.headers["location"] == made.headers["location"]  # the first one, not a second
    assert _count(session) == issued
    page = client.get(made.headers["location"])
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "撤销证照" in page.text
    assert citizen_id(1) not in page.text
    keys = client.get("/console/certificates/keys")
    assert "轮换本单位密钥" in keys.text
    # rotating the key and revoking, each sent twice (a double click): done once
    before = len(client.get(f"{API}/keys").json())
    rotate = {"csrf_token": token, "form_token": form_token()}
    first = client.post("/console/certificates/keys", data=rotate, follow_redirects=False)
    second = client.post("/console/certificates/keys", data=rotate, follow_redirects=False)
    assert first.headers["location"] == second.headers["location"]
    assert len(client.get(f"{API}/keys").json()) == before + 1
    revoke = {"csrf_token": token, "form_token": form_token(), "reason": "登记有误"}
    url = made.headers["location"] + "/revoke"
    assert client.post(url, data=revoke, follow_redirects=False).status_code == 303
    twice = client.post(url, data=revoke, follow_redirects=False)
    assert "error=" not in twice.headers["location"]  # the first's page, not "already revoked"


def test_the_holders_look_up(client: TestClient, session: Session) -> None:
    cert_city(session)
    client.headers["X-CSRF-Token"] = sign_in(client, "healthcert")
    made = _issue(client, birth())
    client.cookies.clear()
    del client.headers["X-CSRF-Token"]
    assert client.get("/certificates/mine").status_code == 200
    found = client.post("/certificates/mine",
                        data={"holder_id": citizen_id(1), "certificate": made["number"]})  # fmt: skip
    assert found.status_code == 200
    assert made["number"] in found.text
    wrong = client.post("/certificates/mine",
                        data={"holder_id": citizen_id(2), "certificate": made["number"]})  # fmt: skip
    assert wrong.status_code == 404
    assert made["number"] not in wrong.text.split("</form>", 1)[1]
