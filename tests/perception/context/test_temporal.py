from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user, sign_in

JSON = {"Content-Type": "application/json"}
GAUGE = "urn:ngsi-ld:WaterLevel:baima"


def _level(value: float, minute: int) -> dict[str, object]:
    return {"level": {"type": "Property", "value": value, "unitCode": "MTR",
                      "observedAt": f"2026-11-30T02:{minute:02d}:00Z"}}  # fmt: skip


def test_history_of_attributes_and_temporal_queries(client: TestClient, session: Session) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), **JSON}
    made = client.post("/ngsi-ld/v1/entities", headers=h, content=json.dumps({
        "id": GAUGE, "type": "WaterLevelObserved", **_level(1.0, 0),
        "river": {"type": "Relationship", "object": "urn:ngsi-ld:River:baima",
                  "observedAt": "2026-11-30T02:00:00Z"}}))  # fmt: skip
    assert made.status_code == 201, made.text
    for minute, value in ((10, 2.0), (20, 4.0), (30, 3.0), (40, 5.0)):
        done = client.patch(f"/ngsi-ld/v1/entities/{GAUGE}/attrs", headers=h,
                            content=json.dumps(_level(value, minute)))  # fmt: skip
        assert done.status_code == 204, done.text
    base = "/ngsi-ld/v1/temporal/entities"

    whole = client.get(f"{base}/{GAUGE}").json()
    assert [i["value"] for i in whole["level"]] == [1.0, 2.0, 4.0, 3.0, 5.0]
    first = whole["level"][0]
    assert first["observedAt"] == "2026-11-30T02:00:00Z"
    assert first["unitCode"] == "MTR"
    assert first["instanceId"].startswith("urn:ngsi-ld:attribute:instance:")
    assert whole["river"][0]["object"] == "urn:ngsi-ld:River:baima"

    between = client.get(f"{base}/{GAUGE}", params={
        "timerel": "between", "timeAt": "2026-11-30T02:10:00Z",
        "endTimeAt": "2026-11-30T02:30:00Z", "attrs": "level"}).json()  # fmt: skip
    assert [i["value"] for i in between["level"]] == [2.0, 4.0]
    assert "river" not in between
    before = client.get(f"{base}/{GAUGE}", params={"timerel": "before",
                                                   "timeAt": "2026-11-30T02:10:00Z"}).json()  # fmt: skip
    assert [i["value"] for i in before["level"]] == [1.0]
    after = client.get(f"{base}/{GAUGE}", params={"timerel": "after", "attrs": "level",
                                                  "timeAt": "2026-11-30T02:10:00Z",
                                                  "lastN": 2}).json()  # fmt: skip
    assert [i["value"] for i in after["level"]] == [3.0, 5.0]

    simple = client.get(f"{base}/{GAUGE}", params={"options": "temporalValues"}).json()
    assert simple["level"]["type"] == "Property"
    assert simple["level"]["values"][:2] == [[1.0, "2026-11-30T02:00:00Z"],
                                             [2.0, "2026-11-30T02:10:00Z"]]  # fmt: skip
    assert simple["river"]["objects"][0][0] == "urn:ngsi-ld:River:baima"

    aggregated = client.get(f"{base}/{GAUGE}", params={
        "options": "aggregatedValues", "aggrMethods": "avg,max,totalCount,sum,stddev",
        "aggrPeriodDuration": "PT30M", "attrs": "level", "timerel": "after",
        "timeAt": "2026-11-30T01:59:00Z"}).json()["level"]  # fmt: skip
    assert [a[0] for a in aggregated["totalCount"]] == [3, 2]
    assert [a[0] for a in aggregated["max"]] == [4.0, 5.0]
    assert aggregated["avg"][0] == [7.0 / 3, "2026-11-30T01:59:00Z", "2026-11-30T02:29:00Z"]
    assert aggregated["sum"][1][0] == 8.0
    assert round(aggregated["stddev"][1][0], 6) == 1.0

    listed = client.get(base, params={"type": "WaterLevelObserved", "attrs": "level",
                                      "lastN": 1, "count": "true"})  # fmt: skip
    assert listed.headers["NGSILD-Results-Count"] == "1"
    assert listed.json()[0]["level"][0]["value"] == 5.0

    # a temporal representation written directly, then more instances, then deleted
    posted = client.post(base, headers=h, content=json.dumps({
        "id": "urn:ngsi-ld:Rain:1", "type": "RainObserved",
        "rain": [{"type": "Property", "value": 0.5, "observedAt": "2026-11-30T01:00:00Z"},
                 {"type": "Property", "value": 2.5, "observedAt": "2026-11-30T01:05:00Z"}]}))  # fmt: skip
    assert posted.status_code == 201, posted.text
    more = client.post(f"{base}/urn:ngsi-ld:Rain:1/attrs", headers=h, content=json.dumps(
        {"rain": [{"value": 7.5, "observedAt": "2026-11-30T01:10:00Z"}]}))  # fmt: skip
    assert more.status_code == 204, more.text
    rain = client.get(f"{base}/urn:ngsi-ld:Rain:1", params={"options": "temporalValues"}).json()
    assert [v[0] for v in rain["rain"]["values"]] == [0.5, 2.5, 7.5]
    assert rain["type"] == "RainObserved"
    no_time = client.post(f"{base}/urn:ngsi-ld:Rain:1/attrs", headers=h,
                          content=json.dumps({"rain": [{"value": 1}]}))  # fmt: skip
    assert no_time.status_code == 400
    assert client.delete(f"{base}/urn:ngsi-ld:Rain:1", headers=h).status_code == 204
    assert client.get(f"{base}/urn:ngsi-ld:Rain:1").status_code == 404
    assert client.delete(f"{base}/{GAUGE}/attrs/river", headers=h).status_code == 204
    assert "river" not in client.get(f"{base}/{GAUGE}").json()

    for params in ({"timerel": "during", "timeAt": "2026-11-30T02:00:00Z"},
                   {"timerel": "before"},
                   {"timerel": "between", "timeAt": "2026-11-30T02:00:00Z"},
                   {"options": "aggregatedValues", "aggrMethods": "median"},
                   {"options": "aggregatedValues", "aggrMethods": "avg",
                    "aggrPeriodDuration": "an hour"},
                   {"lastN": 0}):  # fmt: skip
        refused = client.get(f"{base}/{GAUGE}", params=params)
        assert refused.status_code == 400, (params, refused.text)
        assert refused.json()["type"].endswith("/BadRequestData")
    assert client.get(base).status_code == 400


def test_one_instance_of_the_history_is_changed_or_deleted(
    client: TestClient, session: Session
) -> None:
    make_user(session, "water", Role.unit_admin, unit=None)
    h = {"X-CSRF-Token": sign_in(client, "water"), **JSON}
    base = "/ngsi-ld/v1/temporal/entities"
    made = client.post(base, headers=h, content=json.dumps({
        "id": GAUGE, "type": "WaterLevelObserved",
        "level": [_level(v, m)["level"] for m, v in ((0, 1.0), (10, 2.0), (20, 9.9))]}))  # fmt: skip
    assert made.status_code == 201, made.text
    level = client.get(f"{base}/{GAUGE}").json()["level"]
    wrong = level[2]["instanceId"]
    # a sensor's spike corrected by hand: the value changes, the time and unit stay
    fixed = client.patch(f"{base}/{GAUGE}/attrs/level/{wrong}", headers=h,
                         content=json.dumps({"level": {"type": "Property", "value": 2.5}}))  # fmt: skip
    assert fixed.status_code == 204, fixed.text
    also = client.patch(f"{base}/{GAUGE}/attrs/level/{wrong}", headers=h,
                        content=json.dumps({"value": 2.6, "checkedBy": {
                            "type": "Property", "value": "值班员"}}))  # fmt: skip
    assert also.status_code == 204, also.text
    after = client.get(f"{base}/{GAUGE}").json()["level"]
    assert [i["value"] for i in after] == [1.0, 2.0, 2.6]
    assert (after[2]["unitCode"], after[2]["observedAt"]) == ("MTR", "2026-11-30T02:20:00Z")
    assert after[2]["checkedBy"]["value"] == "值班员"
    moved = client.patch(f"{base}/{GAUGE}/attrs/level/{wrong}", headers=h,
                         content=json.dumps({"value": 1, "observedAt": "2026-11-30T03:00:00Z"}))  # fmt: skip
    assert moved.status_code == 400
    gone = client.delete(f"{base}/{GAUGE}/attrs/level/{level[0]['instanceId']}", headers=h)
    assert gone.status_code == 204, gone.text
    assert [i["value"] for i in client.get(f"{base}/{GAUGE}").json()["level"]] == [2.0, 2.6]
    for bad in (level[0]["instanceId"], "urn:ngsi-ld:attribute:instance:999:2026-11-30T02:00:00Z",
                "not-an-instance"):  # fmt: skip
        missing = client.delete(f"{base}/{GAUGE}/attrs/level/{bad}", headers=h)
        assert missing.status_code == 404, bad
        assert missing.json()["type"].endswith("/ResourceNotFound")
    other_attr = client.delete(f"{base}/{GAUGE}/attrs/river/{level[1]['instanceId']}", headers=h)
    assert other_attr.status_code == 404  # an instance is found under its own attribute only
