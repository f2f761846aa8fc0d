from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, make_resource


def test_review_pages_and_api(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"], share_method="")
    sign_in(client, "urbansteward")
    assert "share_method" in client.get(f"/console/review/{r.code}").text
    assert r.code in client.get("/console/review").text
    assert "公民身份号码" in client.get("/console/review/elements").text
    api = client.get(f"/api/v1/review/resources/{r.code}").json()
    assert api["errors"] == 1
    assert client.get("/api/v1/review/catalog").json()["with_errors"] == 1
