"""Discovery of what the NGSI-LD store holds (ETSI GS CIM 009, 5.7.5 to 5.7.10)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in

API = "/ngsi-ld/v1"


def test_types_and_attributes_answer_with_or_without_a_trailing_slash(
    client: TestClient, session: Session
) -> None:
    """5.7.5 and 5.7.8 (6.25, 6.27): GET /types/ and /attributes/ are the lists, as without
    the slash; 5.7.7 answers an EntityTypeInfo (5.2.26); a transient entity's expiresAt
    and its scope are members of the entity, not attributes (5.7.10: 404)."""
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), "Content-Type": "application/json"}
    bus = {"id": "urn:ngsi-ld:Bus:7", "type": "Bus", "expiresAt": "2100-01-01T00:00:00Z",
           "scope": "/Fuzhou", "speed": {"type": "Property", "value": 30}}  # fmt: skip
    assert client.post(f"{API}/entities", content=json.dumps(bus), headers=h).status_code == 201
    for path in ("types", "types/"):
        listed = client.get(f"{API}/{path}", params={"details": "false"})
        assert listed.status_code == 200, listed.text
        assert listed.json()["typeList"] == ["Bus"]
    for path in ("attributes", "attributes/"):
        listed = client.get(f"{API}/{path}", params={"details": "false"})
        assert listed.status_code == 200, listed.text
        assert listed.json()["attributeList"] == ["speed"]
    info = client.get(f"{API}/types/Bus").json()
    assert (info["type"], info["entityCount"]) == ("EntityTypeInfo", 1)
    assert [a["attributeName"] for a in info["attributeDetails"]] == ["speed"]
    for member in ("expiresAt", "scope", "createdAt", "id", "type"):
        assert client.get(f"{API}/attributes/{member}").status_code == 404
    assert client.get(f"{API}/types/", params={"colour": "red"}).status_code == 400
    [detailed] = client.get(f"{API}/types", params={"details": "true"}).json()
    # 5.2.24: the type's fully qualified name as id, its name in the reader's terms beside it
    assert detailed["id"] == "https://uri.etsi.org/ngsi-ld/default-context/Bus"
    assert (detailed["typeName"], detailed["attributeNames"]) == ("Bus", ["speed"])
