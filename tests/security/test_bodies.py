"""Bodies and numbers: a body past its limit is refused (413) before it is read whole, and a
number or name no column or IRI can hold is the caller's error, in each API's own format —
whoever sends it, and with nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, StatementError
from sqlalchemy.orm import Session

from citybase.app import create_app
from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.core.ledger.models import LedgerEntry
from citybase.core.orgs.models import Unit
from citybase.core.settings import Settings
from citybase.core.values import INT64_MAX, INT64_MIN
from citybase.core.web.errors import out_of_range
from citybase.hub.cases.models import Case
from citybase.perception.context.models import ContextEntity
from citybase.perception.devices.models import Device
from citybase.perception.telemetry.models import Reading
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import make_small_city
from tests.perception.devices.test_telemetry import city

BIG = 2**64
NOW = datetime.now(UTC).isoformat()


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _admin(client: TestClient, session: Session) -> dict[str, str]:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    return {"X-CSRF-Token": sign_in(client, "admin")}


@pytest.fixture
def small(settings: Settings, database: Database, session: Session) -> Iterator[TestClient]:
    """The app with limits of a few kilobytes, so that a body past them is cheap to send."""
    settings.web.max_body_megabytes = 0.002
    settings.web.max_batch_megabytes = 0.01
    settings.web.max_upload_megabytes = 0.02
    settings.files.max_megabytes = 0.01
    app = create_app(settings, database)
    app.state.session_override = session
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


# --- bodies ------------------------------------------------------------------------------------


def test_a_readings_batch_past_its_limit_is_refused_unread(
    small: TestClient, session: Session
) -> None:
    city(session)
    make_user(session, "admin", Role.platform_admin)
    h = {"X-CSRF-Token": sign_in(small, "admin"), "Content-Type": "application/json"}
    one = {"device_id": "wl-1", "ts": NOW, "values": {"level": 2.0}}
    fits = small.post("/api/v1/perception/readings", content=json.dumps([one] * 20), headers=h)
    assert fits.status_code == 200, fits.text  # 1.3 kB: past the general limit, within a batch's
    stored, entries = _count(session, Reading), _count(session, LedgerEntry)
    body = json.dumps([one] * 400).encode()  # 25 kB
    for headers in (h, {"Content-Type": "application/json"}):  # signed in, and nobody
        if "X-CSRF-Token" not in headers:
            small.cookies.clear()
        refused = small.post("/api/v1/perception/readings", content=body, headers=headers)
        assert refused.status_code == 413
        error = refused.json()["error"]
        assert (error["code"], error["field"]) == ("too_large", "body")
        assert "0.01 MB" in error["message"]
        assert refused.headers["x-content-type-options"] == "nosniff"  # inside the middleware

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        streamed = small.post("/api/v1/perception/readings", content=chunks(), headers=headers)
        if "X-CSRF-Token" in headers:
            assert streamed.status_code == 413, streamed.text
            assert streamed.json()["error"]["code"] == "too_large"
        else:  # nobody is refused before the body is read at all
            assert streamed.status_code == 401
    assert (_count(session, Reading), _count(session, LedgerEntry)) == (stored, entries)


def test_the_default_batch_limit_refuses_a_streamed_body_of_33_mb(
    client: TestClient, session: Session
) -> None:
    """Settings' own limit, with no Content-Length to refuse on: the body is counted."""
    city(session)
    make_user(session, "admin", Role.platform_admin)
    h = {"X-CSRF-Token": sign_in(client, "admin"), "Content-Type": "application/json"}

    def chunks() -> Iterator[bytes]:
        piece = b" " * 1_000_000
        for _ in range(33):
            yield piece

    refused = client.post("/api/v1/perception/readings", content=chunks(), headers=h)
    assert refused.status_code == 413
    assert "32 MB" in refused.json()["error"]["message"]
    assert _count(session, Reading) == 0


def test_an_ngsi_ld_batch_past_its_limit_is_a_problem_details_413(
    small: TestClient, session: Session
) -> None:
    make_user(session, "admin", Role.platform_admin)
    h = {"X-CSRF-Token": sign_in(small, "admin"), "Content-Type": "application/json"}
    batch = [{"id": f"urn:ngsi-ld:T:{n}", "type": "T"} for n in range(1000)]  # 36 kB
    for headers in (h, {"Content-Type": "application/json"}):
        refused = small.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps(batch),
                             headers=headers)  # fmt: skip
        assert refused.status_code == 413
        problem = refused.json()
        assert problem["status"] == 413
        assert problem["title"] == "too_large"
        assert "0.01 MB" in problem["detail"]
    assert _count(session, ContextEntity) == 0
    fits = small.post("/ngsi-ld/v1/entityOperations/upsert", content=json.dumps(batch[:10]),
                      headers=h)  # fmt: skip
    assert fits.status_code in (201, 204), fits.text
    assert _count(session, ContextEntity) == 10


def test_open311_and_uploads_are_refused_in_their_own_formats(
    small: TestClient, session: Session
) -> None:
    h = _admin(small, session)
    cases, units = _count(session, Case), _count(session, Unit)
    form = {"service_code": "x", "description": "路灯不亮" * 2000}  # 24 kB of form
    xml = small.post("/open311/v2/requests.xml", data=form)
    assert xml.status_code == 413
    assert xml.text.startswith("<?xml")
    assert "<code>413</code>" in xml.text
    as_json = small.post("/open311/v2/requests.json", data=form)
    assert as_json.status_code == 413
    assert as_json.json()[0]["code"] == 413
    upload = small.post("/api/v1/orgs/import", headers=h,
                        files={"file": ("units.csv", b"code,name,region_code\n" + b"x" * 100_000)})  # fmt: skip
    assert upload.status_code == 413
    assert upload.json()["error"]["code"] == "too_large"
    general = small.post("/api/v1/units", headers=h,
                         json={"code": "fz.x", "name": "x" * 3000, "region_code": "350100"})  # fmt: skip
    assert general.status_code == 413
    assert (_count(session, Case), _count(session, Unit)) == (cases, units)


def test_a_length_that_is_no_number_is_a_400(client: TestClient) -> None:
    refused = client.post("/api/v1/units", content=b"{}",
                          headers={"Content-Length": "lots", "Content-Type": "application/json"})  # fmt: skip
    assert refused.status_code == 400


# --- numbers, dates, names ---------------------------------------------------------------------


def test_ids_and_offsets_past_64_bits_are_refused(client: TestClient, session: Session) -> None:
    h = _admin(client, session)
    entries = _count(session, LedgerEntry)
    for path, field in ((f"/api/v1/users/{BIG}", "user_id"),
                        (f"/api/v1/ledger/entries/{BIG}", "seq"),
                        (f"/api/v1/cockpit/tasks/{-BIG}", "task_id"),
                        (f"/api/v1/ledger/entries?offset={BIG}", "offset"),
                        (f"/api/v1/catalog/resources?offset={BIG}", "offset")):  # fmt: skip
        refused = client.get(path, headers=h)
        assert refused.status_code == 422, path
        assert refused.json()["error"]["field"] == field
    revoked = client.delete(f"/api/v1/keys/{BIG}", headers=h)
    assert revoked.status_code == 422
    assert (
        client.patch(f"/api/v1/users/{BIG}", json={"display_name": "x"}, headers=h).status_code
        == 422
    )
    ngsi = client.get("/ngsi-ld/v1/entities", params={"type": "T", "offset": str(BIG)})
    assert ngsi.status_code == 400
    assert ngsi.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert _count(session, LedgerEntry) == entries


def test_every_integer_parameter_of_every_route_is_bounded(app: FastAPI) -> None:
    """The walk that keeps it so: an integer in a path or a query without bounds inside 64 bits
    would reach the database as whatever the caller typed."""
    unbounded = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for param in get_flat_params(route.dependant):
            if int not in (param.field_info.annotation, *getattr(
                    param.field_info.annotation, "__args__", ())):  # fmt: skip
                continue
            low = [getattr(m, "ge", None) for m in param.field_info.metadata]
            high = [getattr(m, "le", None) for m in param.field_info.metadata]
            if not any(v is not None and v >= INT64_MIN for v in low) or \
                    not any(v is not None and v <= INT64_MAX for v in high):  # fmt: skip
                unbounded.append(f"{route.path} {param.name}")
    assert unbounded == []


def test_dates_before_the_year_1000_are_refused(client: TestClient, session: Session) -> None:
    h = _admin(client, session)
    city(session)
    refused = client.get("/api/v1/ledger/entries", params={"since": "0999-12-31T00:00:00Z"},
                         headers=h)  # fmt: skip
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "since"
    assert client.get("/api/v1/cockpit/reminders", params={"today": "0131-01-01"},
                      headers=h).status_code == 422  # fmt: skip
    assert client.get("/api/v1/ledger/entries", params={"since": "9999-12-31T23:00:00-05:00"},
                      headers=h).status_code == 422  # fmt: skip
    open311 = client.get("/open311/v2/requests.xml", params={"start_date": "0999-01-01T00:00:00Z"})
    assert open311.status_code == 400
    assert "<description>start_date: a date before the year 1000" in open311.text
    for day in ("0999-12-31", "9999-12-31"):
        page = client.get("/console/ledger", params={"since": day, "until": day},
                          headers={"Accept": "text/html"})  # fmt: skip
        assert page.status_code == 422
        assert "<html" in page.text
    for ts in ("0999-01-01T00:00:00+08:00", "0001-01-01T00:00:00+08:00"):
        reading = [{"device_id": "wl-1", "ts": ts, "values": {"level": 1.0}}]
        sent = client.post("/api/v1/perception/readings", json=reading, headers=h)
        assert sent.status_code == 200, sent.text  # a batch answers for each reading
        (refused,) = sent.json()["rejected"]
        assert refused["index"] == 0
        assert "1000" in refused["reason"]
        assert sent.json()["accepted"] == 0
    assert _count(session, Reading) == 0


def test_a_negative_duration_is_refused(client: TestClient, session: Session) -> None:
    h = _admin(client, session)
    city(session)
    forecast = client.get("/api/v1/perception/devices/wl-1/series/level/forecast",
                          params={"hours_back": -(10**12)}, headers=h)  # fmt: skip
    assert forecast.status_code == 422
    assert forecast.json()["error"]["field"] == "hours_back"
    every = client.get("/api/v1/perception/devices/wl-1/series/level/aggregate", headers=h,
                       params={"start": NOW, "end": NOW, "every": -300})  # fmt: skip
    assert every.status_code == 422
    temporal = client.get("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:T:1", params={
        "options": "aggregatedValues", "aggrMethods": "sum", "aggrPeriodDuration": "-PT1H"})  # fmt: skip
    assert temporal.status_code == 400
    assert temporal.json()["title"] == "BadRequestData"


def test_a_bare_carriage_return_in_an_imported_csv_is_refused(
    client: TestClient, session: Session
) -> None:
    h = _admin(client, session)
    units = _count(session, Unit)
    rows = b"code,name,region_code\nfz.a,A,350100\rfz.b,B,350100\n"
    refused = client.post("/api/v1/orgs/import", headers=h, files={"file": ("u.csv", rows)})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["field"] == "file"
    assert "line 2" in error["message"]
    assert "carriage return" in error["message"]
    assert _count(session, Unit) == units
    city(session)
    devices = _count(session, Device)
    sheet = b"device_id,name,type_code,owner_unit\nwl-8,x,water_gauge,fz.water\rwl-9\n"
    refused = client.post("/api/v1/perception/devices/import", headers=h,
                          files={"file": ("d.csv", sheet)})  # fmt: skip
    assert refused.status_code == 422
    assert "carriage return" in refused.json()["error"]["message"]
    assert _count(session, Device) == devices


def test_an_attribute_name_with_a_space_is_bad_request_data(
    client: TestClient, session: Session
) -> None:
    make_user(session, "admin", Role.platform_admin)
    h = {"X-CSRF-Token": sign_in(client, "admin"), "Content-Type": "application/json"}
    for body, url in (
        ({"id": "urn:ngsi-ld:T:1", "type": "T", "water level": {"type": "Property", "value": 1}},
         "/ngsi-ld/v1/entities"),
        ([{"id": "urn:ngsi-ld:T:2", "type": "T", "a\x1eb": {"type": "Property", "value": 1}}],
         "/ngsi-ld/v1/entityOperations/upsert"),
        ({"id": "urn:ngsi-ld:T:3", "type": "Water Level"}, "/ngsi-ld/v1/entities"),
    ):  # fmt: skip
        refused = client.post(url, content=json.dumps(body), headers=h)
        assert refused.status_code == 400, refused.text
        problem = refused.json()
        assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
        assert "is not allowed" in problem["detail"]
    assert _count(session, ContextEntity) == 0


def test_a_number_the_database_refuses_is_a_400_not_a_500() -> None:
    """The backstop for a schema that missed its bound: SQLite's and PostgreSQL's refusals of an
    integer out of range are told apart from every other failure."""
    sqlite = OverflowError("Python int too large to convert to SQLite INTEGER")
    assert out_of_range(DataError("INSERT", {}, sqlite))
    assert out_of_range(sqlite)
    assert out_of_range(StatementError("", "", {}, TypeError("Integer exceeds 64-bit range")))

    class Refused(Exception):
        sqlstate = "22003"  # numeric_value_out_of_range

    assert out_of_range(DataError("INSERT", {}, Refused()))
    assert not out_of_range(DataError("INSERT", {}, ValueError("something else")))
