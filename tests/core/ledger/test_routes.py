from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger import service
from citybase.core.ledger.schemas import LedgerFilter
from tests.core.identity.factories import make_user, sign_in
from tests.core.orgs.factories import make_small_city


def test_entry_with_a_proof_that_verifies(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "sup", Role.supervisor, unit="fz.urban")
    sign_in(client, "sup")
    head = client.get("/api/v1/ledger/tree-head").json()
    assert head["tree_size"] >= 8
    assert len(head["signature"]) == 128
    body = client.get("/api/v1/ledger/entries/3", params={"tree_size": head["tree_size"]}).json()
    proof = body["proof"]
    assert service.verify_inclusion(
        3,
        head["tree_size"],
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(head["root_hash"]),
    )
    consistency = client.get("/api/v1/ledger/consistency", params={"first": 2}).json()
    assert consistency["second"] == head["tree_size"]
    assert consistency["first_root"] != consistency["second_root"]
    assert client.get("/api/v1/ledger/entries/99999").status_code == 404


def test_browse_by_actor_action_and_object(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "sup", Role.supervisor)
    sign_in(client, "sup")
    logins = client.get("/api/v1/ledger/entries", params={"action": "login"}).json()
    assert logins["total"] == 1
    assert logins["entries"][0]["actor"] == "sup"
    units = client.get("/api/v1/ledger/entries", params={"object_type": "unit"}).json()
    assert units["total"] == 3


def test_unit_admin_sees_only_their_unit(client: TestClient, session: Session) -> None:
    make_small_city(session)
    make_user(session, "uadmin", Role.unit_admin, unit="fz.urban")
    make_user(session, "other", Role.unit_admin, unit="fz.bigdata")
    sign_in(client, "other")
    sign_in(client, "uadmin")
    entries = client.get("/api/v1/ledger/entries", params={"limit": 500}).json()["entries"]
    assert entries
    assert {e["actor_unit"] for e in entries} == {"fz.urban"}
    foreign = next(e for e in service.find_entries(session, LedgerFilter(unit="fz.bigdata"))[0])
    assert client.get(f"/api/v1/ledger/entries/{foreign.seq}").status_code == 404


def test_viewers_cannot_read_the_ledger_api(client: TestClient, session: Session) -> None:
    make_user(session, "view", Role.viewer)
    sign_in(client, "view")
    assert client.get("/api/v1/ledger/entries").status_code == 403
