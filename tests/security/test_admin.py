"""The ledger and the platform's admin endpoints — regions and units, users and their roles, API
keys, the background-work page — tried as every role but platform admin and as nobody. Each is
refused (or, for a unit admin, held to their own unit and to the roles that stay within it),
and afterwards users, roles, units, regions, keys and the ledger are as they were."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.identity import repository as identity_repository
from citybase.core.identity import service as identity
from citybase.core.identity.models import ApiKey, User
from citybase.core.identity.schemas import ApiKeyCreate, Role, UserUpdate
from citybase.core.orgs.models import Region, Unit
from citybase.core.settings import Settings
from citybase.core.web import once
from tests.core.identity.factories import principal_of
from tests.security.people import NOT_ADMIN, act_as, demo_city, ledger_since, ledger_size

OUTLINE = {"type": "Polygon", "coordinates": [[[119.2, 26.0], [119.3, 26.0], [119.3, 26.1],
                                               [119.2, 26.1], [119.2, 26.0]]]}  # fmt: skip


@pytest.fixture
def city(session: Session, settings: Settings) -> dict[str, Any]:
    demo_city(session)
    key = identity.create_api_key(session, settings, principal_of(session, "admin"),
                                  ApiKeyCreate(name="admin's"))  # fmt: skip
    admin = identity.get_user_by_username(session, "admin")
    other = identity.get_user_by_username(session, "consumer")  # of 卫健委, not 城管委
    return {"key": key, "admin": admin.id, "other": other.id}


def _snapshot(session: Session) -> tuple[Any, ...]:
    """Users with their roles and state, units, regions, keys — read afresh."""
    session.expire_all()
    users = [(u.id, u.username, u.unit_id, u.active, u.password_hash, u.locked_until)
             for u in session.scalars(select(User).order_by(User.id))]  # fmt: skip
    roles = identity_repository.roles_of(session, [u[0] for u in users])
    units = [(u.code, u.name, u.region_code, u.active)
             for u in session.scalars(select(Unit).order_by(Unit.code))]  # fmt: skip
    regions = [(r.code, r.name, r.parent_code)
               for r in session.scalars(select(Region).order_by(Region.code))]  # fmt: skip
    keys = [(k.id, k.user_id, k.revoked_at, k.expires_at)
            for k in session.scalars(select(ApiKey).order_by(ApiKey.id))]  # fmt: skip
    return users, sorted((k, sorted(v)) for k, v in roles.items()), units, regions, keys


def _writes(client: TestClient, city: dict[str, Any], headers: dict[str, str]) -> list[Any]:
    admin, other, key = city["admin"], city["other"], city["key"].id
    j = {**headers, "Accept": "application/json"}

    def fresh() -> str:  # each console form as drawn, so that the refusal is the role's
        return once.issue(client.app.state.settings)

    return [
        ("new region", client.post("/api/v1/regions", headers=j, json={
            "code": "350199", "name": "新区", "level": "district", "parent_code": "350100"})),
        ("rename region", client.patch("/api/v1/regions/350100", headers=j, json={"name": "x市"})),
        ("outline", client.put("/api/v1/regions/350102/boundary", headers=j,
                               json={"geometry": OUTLINE})),
        ("remove outline", client.delete("/api/v1/regions/350102/boundary", headers=j)),
        ("outlines import", client.post("/api/v1/regions/boundaries", headers=j, files={
            "file": ("b.geojson", b'{"type":"FeatureCollection","features":[]}', "application/geo+json")})),
        ("new unit", client.post("/api/v1/units", headers=j, json={
            "code": "fz.new", "name": "新单位", "region_code": "350100"})),
        ("rename unit", client.patch("/api/v1/units/fz.bigdata", headers=j, json={"name": "x"})),
        ("import", client.post("/api/v1/orgs/import", headers=j, files={
            "file": ("u.csv", "code,name,region_code\nfz.x,某单位,350100\n".encode(), "text/csv")})),
        ("new admin", client.post("/api/v1/users", headers=j, json={
            "username": "mallory", "display_name": "M", "password": "a long password 1",
            "roles": ["platform_admin"], "unit_code": "fz.urban"})),
        ("new supervisor", client.post("/api/v1/users", headers=j, json={
            "username": "mallory2", "display_name": "M", "password": "a long password 1",
            "roles": ["supervisor"], "unit_code": "fz.urban"})),
        ("the admin's password", client.patch(f"/api/v1/users/{admin}", headers=j,
                                              json={"password": "a long password 2"})),
        ("the admin off", client.patch(f"/api/v1/users/{admin}", headers=j, json={"active": False})),
        ("another unit's user", client.patch(f"/api/v1/users/{other}", headers=j,
                                             json={"roles": ["data_steward"]})),
        ("another unit's user in", client.patch(f"/api/v1/users/{other}", headers=j,
                                                json={"unit_code": "fz.urban"})),
        ("unlock", client.post(f"/api/v1/users/{admin}/unlock", headers=j)),
        ("the admin's key", client.delete(f"/api/v1/keys/{key}", headers=j)),
        ("console user", client.post(f"/console/users/{admin}", headers=headers,
                                     data={"active": "", "display_name": "x", "form_token": fresh()},
                                     follow_redirects=False)),
        ("console new user", client.post("/console/users/new", headers=headers, data={
            "form_token": once.issue(client.app.state.settings), "username": "mallory3", "display_name": "M", "password": "a long password 1",
            "roles": "platform_admin"}, follow_redirects=False)),
        ("console unit", client.post("/console/units/fz.bigdata", headers=headers,
                                     data={"name": "x", "form_token": fresh()}, follow_redirects=False)),
        ("console key", client.post(f"/console/keys/{key}/revoke", headers=headers,
                                    data={"form_token": fresh()}, follow_redirects=False)),
    ]  # fmt: skip


def _reads(client: TestClient) -> list[Any]:
    return [
        ("ledger", client.get("/api/v1/ledger/entries")),
        ("ledger entry", client.get("/api/v1/ledger/entries/0")),
        ("tree head", client.get("/api/v1/ledger/tree-head")),
        ("consistency", client.get("/api/v1/ledger/consistency", params={"first": 1, "second": 2})),
        ("users", client.get("/api/v1/users")),
        ("bus", client.get("/api/v1/system/bus")),
        ("console ledger", client.get("/console/ledger")),
        ("console users", client.get("/console/users")),
        ("console system", client.get("/console/system")),
    ]  # fmt: skip


# who may read what of these, by their role's own permissions (checked below, not refused)
MAY_READ = {
    "supervisor": {"ledger", "ledger entry", "tree head", "consistency", "users", "console ledger",
                   "console users"},
    "unitadmin": {"ledger", "tree head", "consistency", "users", "console ledger", "console users"},
    # the auditor reads the whole ledger (who read what, on whose behalf), not the users
    "auditor": {"ledger", "ledger entry", "tree head", "consistency", "console ledger"},
}  # fmt: skip


@pytest.mark.parametrize("who", [*NOT_ADMIN, None])
def test_admin_writes_are_refused(
    client: TestClient, session: Session, city: dict[str, Any], who: str | None
) -> None:
    before, size = _snapshot(session), ledger_size(session)
    headers = act_as(client, who)
    for what, r in _writes(client, city, headers):
        if who is None:
            assert r.status_code in (401, 303), (what, r.status_code)
        elif what.startswith("console") and r.status_code == 422:
            assert 'class="notice error"' in r.text, what  # the form again, saying why
        else:
            assert r.status_code in (403, 404), (what, r.status_code, r.text[:200])
    assert _snapshot(session) == before
    assert ledger_since(session, size) == []


@pytest.mark.parametrize("who", [*NOT_ADMIN, None])
def test_the_ledger_and_admin_pages(
    client: TestClient, session: Session, city: dict[str, Any], who: str | None
) -> None:
    size = ledger_size(session)
    act_as(client, who)
    allowed = MAY_READ.get(who or "", set())
    for what, r in _reads(client):
        if what in allowed:
            assert r.status_code == 200, (what, r.text[:200])
        elif who is None:
            assert r.status_code == 401, (what, r.status_code)
        else:
            assert r.status_code in (403, 404), (what, r.status_code)
    if who == "unitadmin":  # its own unit's entries only
        entries = client.get("/api/v1/ledger/entries", params={"limit": 500}).json()["entries"]
        assert entries
        assert {e["actor_unit"] for e in entries} == {"fz.urban"}
        others = client.get("/api/v1/ledger/entries", params={"unit": "fz.bigdata"}).json()
        assert {e["actor_unit"] for e in others["entries"]} <= {"fz.urban"}  # held to its own
        assert client.get("/api/v1/ledger/entries/0").status_code in (403, 404)
        users = client.get("/api/v1/users").json()
        assert {u["unit_code"] for u in users} == {"fz.urban"}
    if who not in (None, "viewer"):  # one's own keys only
        mine = client.get("/api/v1/keys", params={"all": "true"})
        assert mine.status_code == 200
        assert city["key"].id not in [k["id"] for k in mine.json()]
    assert ledger_since(session, size) == []


@pytest.mark.parametrize("role", [Role.platform_admin, Role.supervisor, Role.auditor,
                                  Role.hotline_operator])  # fmt: skip
def test_a_unit_admin_grants_no_role_that_reaches_beyond_the_unit(
    client: TestClient, session: Session, city: dict[str, Any], role: Role
) -> None:
    """城管委's admin manages 城管委's users, but may not make one of them (or itself) a
    supervisor who reads the whole ledger, an auditor of every shared read, an operator who sees
    every case — nor a platform admin."""
    headers = act_as(client, "unitadmin")
    me = identity.get_user_by_username(session, "unitadmin").id
    made = client.post("/api/v1/users", headers=headers, json={
        "username": "urbanclerk", "display_name": "科员", "password": "a long password 1",
        "roles": ["data_consumer"], "unit_code": "fz.urban"})  # fmt: skip
    assert made.status_code == 201, made.text  # its own unit, a role within it: fine
    clerk = made.json()["id"]
    before, size = _snapshot(session), ledger_size(session)
    attempts = [
        client.post("/api/v1/users", headers=headers, json={
            "username": "urbanboss", "display_name": "M", "password": "a long password 1",
            "roles": [role.value], "unit_code": "fz.urban"}),
        client.patch(f"/api/v1/users/{clerk}", headers=headers, json={"roles": [role.value]}),
        client.patch(f"/api/v1/users/{me}", headers=headers,
                     json={"roles": ["unit_admin", role.value]}),
    ]  # fmt: skip
    for r in attempts:
        assert (r.status_code, r.json()["error"]["field"]) == (403, "roles"), r.text
    assert _snapshot(session) == before
    assert ledger_since(session, size) == []
    # nor take over a user of its unit that a platform admin made a supervisor
    identity.update_user(session, None, clerk, UserUpdate(roles=[Role.supervisor]))
    taken = client.patch(f"/api/v1/users/{clerk}", headers=headers,
                         json={"password": "a long password 3"})  # fmt: skip
    assert taken.status_code == 403
