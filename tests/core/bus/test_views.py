from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in


def test_system_page_is_for_platform_admins(client: TestClient, session: Session) -> None:
    make_user(session, "root", Role.platform_admin)
    make_user(session, "sup", Role.supervisor)
    sign_in(client, "sup")
    assert client.get("/console/system").status_code == 403
    assert client.get("/api/v1/system/bus").status_code == 403
    sign_in(client, "root")
    page = client.get("/console/system")
    assert page.status_code == 200
    assert "待投递事件" in page.text
    assert client.get("/api/v1/system/bus").json()["outbox"]["pending"] >= 0
