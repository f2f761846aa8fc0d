from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import make_small_city


def test_ledger_pages(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "sup", Role.supervisor)
    sign_in(client, "sup")
    listing = client.get("/console/ledger", params={"action": "unit."})
    assert listing.status_code == 200
    assert "gl.urban" in listing.text
    assert "login.success" not in listing.text
    entry = client.get("/console/ledger/0")
    assert "该证明与已签名的根哈希验证一致" in entry.text
    bad_date = client.get(
        "/console/ledger", params={"since": "yesterday"}, headers={"Accept": "text/html"}
    )
    assert bad_date.status_code == 422
    assert "请按“年-月-日”填写日期" in bad_date.text  # in the page's language
