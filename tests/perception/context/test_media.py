"""Which media types each NGSI-LD resource answers in (ETSI GS CIM 009, 6.3.4 and 6.3.15)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in

API = "/ngsi-ld/v1"
GEO = "application/geo+json"


def test_geojson_answers_entities_only(client: TestClient, session: Session) -> None:
    """GeoJSON is a representation of entities retrieved or queried: asked alone of a
    subscription or of the temporal API it is 406; listed beside JSON there, JSON is chosen."""
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), "Content-Type": "application/json"}
    gauge = {"id": "urn:ngsi-ld:Gauge:g1", "type": "Gauge",
             "location": {"type": "GeoProperty",
                          "value": {"type": "Point", "coordinates": [119.3, 26.1]}}}  # fmt: skip
    assert client.post(f"{API}/entities", content=json.dumps(gauge), headers=h).status_code == 201
    sub = {"id": "urn:ngsi-ld:Subscription:g1", "type": "Subscription",
           "entities": [{"type": "Gauge"}],
           "notification": {"endpoint": {"uri": "http://x.org/"}}}  # fmt: skip
    assert (
        client.post(f"{API}/subscriptions", content=json.dumps(sub), headers=h).status_code == 201
    )

    feature = client.get(f"{API}/entities/{gauge['id']}", headers={"Accept": GEO})
    assert feature.headers["content-type"].startswith(GEO)
    assert feature.json()["type"] == "Feature"
    assert (
        client.get(f"{API}/subscriptions/{sub['id']}", headers={"Accept": GEO}).status_code == 406
    )
    unknown = client.get(f"{API}/subscriptions/urn:ngsi-ld:Subscription:none",
                         headers={"Accept": GEO})  # fmt: skip
    assert unknown.status_code == 406  # the media type is looked at before anything else
    temporal = client.get(f"{API}/temporal/entities", headers={"Accept": GEO},
                          params={"type": "Gauge", "timerel": "after",
                                  "timeAt": "2020-01-01T00:00:00Z"})  # fmt: skip
    assert temporal.status_code == 406
    both = client.get(
        f"{API}/subscriptions/{sub['id']}", headers={"Accept": f"{GEO}, application/json"}
    )
    assert both.status_code == 200
    assert both.headers["content-type"].startswith("application/json")
    assert both.json()["type"] == "Subscription"


def test_every_type_with_local_false_is_refused(client: TestClient, session: Session) -> None:
    """4.17 and 6.4.3.2: type=* (every type) goes with local left out or true, never false."""
    make_user(session, "reader", Role.viewer, unit=None)
    sign_in(client, "reader")
    refused = client.get(f"{API}/entities", params={"type": "*", "local": "false"})
    assert refused.status_code == 400
    assert refused.json()["type"].endswith("/BadRequestData")
    assert client.get(f"{API}/entities", params={"type": "*"}).status_code == 200
    assert client.get(f"{API}/entities", params={"type": "*", "local": "true"}).status_code == 200
