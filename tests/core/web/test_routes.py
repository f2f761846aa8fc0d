from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from tests.core.orgs.factories import make_small_city


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "ok"


def test_metrics_are_prometheus_text(client: TestClient, session: Session) -> None:
    make_small_city(session)
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert 'citybase_http_requests_total{method="GET",route="/healthz",status="200"}' in body
    assert "citybase_ledger_entries" in body


def test_metrics_may_want_a_scrape_token(client: TestClient, settings: Settings) -> None:
    settings.web.metrics_token = "s3cret-scrape"
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "scrape token" in wrong.json()["error"]["message"]
    scraped = client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert scraped.status_code == 200
    assert "citybase_ledger_entries" in scraped.text


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "citybase"


def test_security_headers(client: TestClient) -> None:
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert client.get("/static/core/citybase.css").status_code == 200
