"""CORS on the public read APIs: preflights answered, the allowed origin on every answer, no
credentials ever, and nothing of CORS on the console or the rest of ``/api``."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.app import create_app
from citybase.core.db.engine import Database
from citybase.core.settings import Settings, WebSettings
from tests.hub.cases.factories import city

ORIGIN = {"Origin": "https://map.example.org"}
PUBLIC = ("/api/3/action/package_list", "/catalog.ttl", "/open311/v2/services.json",
          "/ngsi-ld/v1/types")  # fmt: skip


def test_public_reads_answer_any_origin_by_default(client: TestClient, session: Session) -> None:
    city(session)
    for path in PUBLIC:
        answer = client.get(path, headers=ORIGIN)
        assert answer.headers.get("access-control-allow-origin") == "*", path
        assert "access-control-allow-credentials" not in answer.headers
        preflight = client.options(path, headers=ORIGIN | {
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "accept, content-type"})  # fmt: skip
        assert preflight.status_code == 204, path
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "GET" in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()
    # errors carry it too (a page must be able to read why it was refused)
    missing = client.get("/api/3/action/package_show", params={"id": "nothing"}, headers=ORIGIN)
    assert (missing.status_code, missing.headers["access-control-allow-origin"]) == (404, "*")
    # ckanapi posts its reads; a page may too
    posted = client.options("/api/3/action/package_search", headers=ORIGIN | {
        "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert posted.status_code == 204
    # the catalog is read-only from another origin
    refused = client.options("/catalog.ttl", headers=ORIGIN | {
        "Access-Control-Request-Method": "DELETE"})  # fmt: skip
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers


def test_the_console_and_the_private_api_send_no_cors(client: TestClient) -> None:
    for path in ("/api/v1/hub/cases", "/console", "/login", "/api/v1/ledger/entries"):
        answer = client.get(path, headers=ORIGIN)
        assert "access-control-allow-origin" not in answer.headers, path
        preflight = client.options(path, headers=ORIGIN | {
            "Access-Control-Request-Method": "GET"})  # fmt: skip
        assert "access-control-allow-origin" not in preflight.headers, path


def test_a_list_of_origins_or_none(tmp_path, database: Database, session: Session) -> None:  # type: ignore[no-untyped-def]
    for origins, allowed in (("https://map.example.org, https://a.example", True),
                             ("https://other.example", False), ("", False)):  # fmt: skip
        settings = Settings(home=tmp_path / "home", database_url=database.url,
                            web=WebSettings(cors_origins=origins))  # fmt: skip
        app = create_app(settings, database)
        app.state.session_override = session
        with TestClient(app) as client:
            answer = client.get("/open311/v2/services.json", headers=ORIGIN)
            preflight = client.options("/open311/v2/services.json", headers=ORIGIN | {
                "Access-Control-Request-Method": "GET"})  # fmt: skip
        if allowed:
            assert answer.headers["access-control-allow-origin"] == ORIGIN["Origin"]
            assert "origin" in answer.headers["vary"].lower()
            assert preflight.status_code == 204
        else:
            assert "access-control-allow-origin" not in answer.headers
            assert preflight.status_code == 403
