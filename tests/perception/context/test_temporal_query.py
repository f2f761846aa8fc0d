"""The temporal API's answers: paged with 206 and Content-Range, datasets and kinds kept."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from tests.core.identity.factories import make_user, sign_in

JSON = {"Content-Type": "application/json"}
BASE = "/ngsi-ld/v1/temporal/entities"
CAR = "urn:ngsi-ld:Vehicle:page"


def _writer(client: TestClient, session: Session) -> dict[str, str]:
    make_user(session, "water", Role.unit_admin, unit=None)
    return {"X-CSRF-Token": sign_in(client, "water"), **JSON}


def _limit(client: TestClient, settings: Settings, most: int) -> None:
    client.app.state.settings = settings.model_copy(  # type: ignore[attr-defined]
        update={"perception": settings.perception.model_copy(update={"temporal_limit": most})}
    )


def _series(name: str, day: int, count: int) -> list[dict[str, object]]:
    return [{"type": "Property", "value": i, "observedAt": f"2020-01-0{day}T01:{i:02d}:00Z"}
            for i in range(1, count + 1)]  # fmt: skip


def test_an_answer_beyond_the_page_of_instances_is_cut_in_time(
    client: TestClient, session: Session, settings: Settings
) -> None:
    h = _writer(client, session)
    made = client.post(BASE, headers=h, content=json.dumps({
        "id": CAR, "type": "Vehicle", "speed": _series("speed", 1, 20),
        "fuel": _series("fuel", 2, 20)}))  # fmt: skip
    assert made.status_code == 201, made.text
    _limit(client, settings, 30)

    whole = client.get(f"{BASE}/{CAR}")
    assert whole.status_code == 206
    assert whole.headers["Content-Range"] == \
        "date-time 2020-01-01T01:01:00Z-2020-01-02T01:10:00Z/*"  # fmt: skip
    body = whole.json()
    assert len(body["speed"]) == 20
    assert len(body["fuel"]) == 10

    newest = client.get(f"{BASE}/{CAR}", params={"lastN": 20})
    assert newest.status_code == 206
    assert newest.headers["Content-Range"] == \
        "date-time 2020-01-02T01:20:00Z-2020-01-01T01:11:00Z/20"  # fmt: skip
    assert [i["value"] for i in newest.json()["speed"]] == list(range(11, 21))

    before = client.get(f"{BASE}/{CAR}", params={"lastN": 25, "timerel": "before",
                                                "timeAt": "2021-01-01T00:00:00Z"})  # fmt: skip
    assert before.headers["Content-Range"].startswith("date-time 2021-01-01T00:00:00Z-")

    # an attribute whose instances all lie beyond the cut is answered empty, not left out
    after = client.get(f"{BASE}/{CAR}", params={"timerel": "after", "attrs": "speed,fuel",
                                               "timeAt": "2019-01-01T00:00:00Z"})  # fmt: skip
    _limit(client, settings, 20)
    cut = client.get(f"{BASE}/{CAR}", params={"timerel": "after", "options": "temporalValues",
                                             "timeAt": "2019-01-01T00:00:00Z"})  # fmt: skip
    assert after.headers["Content-Range"].startswith("date-time 2019-01-01T00:00:00Z-")
    assert cut.status_code == 206
    assert cut.json()["fuel"] == {"type": "Property", "values": []}
    assert len(cut.json()["speed"]["values"]) == 20

    listed = client.get(BASE, params={"type": "Vehicle", "lastN": 5})  # 10: within the page
    assert listed.status_code == 200
    assert "Content-Range" not in listed.headers


def test_each_dataset_keeps_its_own_history_and_is_filtered(
    client: TestClient, session: Session
) -> None:
    h = _writer(client, session)
    at = "2020-09-01T12:05:00Z"
    made = client.post(BASE, headers=h, content=json.dumps({
        "id": CAR, "type": "Vehicle", "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-09-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": at, "datasetId": "urn:ds:common"},
            {"type": "Property", "value": 60, "observedAt": at, "datasetId": "urn:ds:speed"}]}))  # fmt: skip
    assert made.status_code == 201, made.text

    whole = client.get(f"{BASE}/{CAR}").json()["speed"]  # the same moment, two datasets: both
    assert sorted((i.get("datasetId", "@none"), i["value"]) for i in whole) == \
        [("@none", 120), ("urn:ds:common", 80), ("urn:ds:speed", 60)]  # fmt: skip
    pairs = client.get(f"{BASE}/{CAR}", params={"options": "temporalValues"}).json()["speed"]
    assert {p.get("datasetId", "@none"): p["values"] for p in pairs} == {
        "@none": [[120, "2020-09-01T12:03:00Z"]], "urn:ds:common": [[80, at]],
        "urn:ds:speed": [[60, at]]}  # fmt: skip
    one = client.get(f"{BASE}/{CAR}", params={"options": "temporalValues",
                                             "datasetId": "urn:ds:speed"}).json()  # fmt: skip
    assert one["speed"] == {"type": "Property", "datasetId": "urn:ds:speed", "values": [[60, at]]}
    default = client.get(BASE, params={"type": "Vehicle", "datasetId": "@none"}).json()
    assert [i["value"] for i in default[0]["speed"]] == [120]

    # through the core API: an attribute's datasets each join their own history
    entity = {"id": "urn:ngsi-ld:Vehicle:core", "type": "Vehicle", "speed": [
        {"type": "Property", "value": 1, "observedAt": at},
        {"type": "Property", "value": 2, "observedAt": at, "datasetId": "urn:ds:gps"}]}  # fmt: skip
    assert client.post("/ngsi-ld/v1/entities", headers=h,
                       content=json.dumps(entity)).status_code == 201  # fmt: skip
    kept = client.get(f"{BASE}/urn:ngsi-ld:Vehicle:core").json()["speed"]
    assert sorted(i["value"] for i in kept) == [1, 2]


def test_the_newer_kinds_keep_their_member_in_the_history(
    client: TestClient, session: Session
) -> None:
    h = _writer(client, session)
    made = client.post(BASE, headers=h, content=json.dumps({
        "id": CAR, "type": "Vehicle",
        "street": [{"type": "LanguageProperty", "languageMap": {"fr": "Grand Place"},
                    "observedAt": "2020-08-01T12:03:00Z"}],
        "config": [{"type": "JsonProperty", "json": {"value": 120},
                    "observedAt": "2020-08-01T12:03:00Z"}],
        "kind": [{"type": "VocabProperty", "vocab": "sightseeing",
                  "observedAt": "2020-08-01T12:03:00Z"}]}))  # fmt: skip
    assert made.status_code == 201, made.text
    normalized = client.get(f"{BASE}/{CAR}").json()
    street = normalized["street"][0]
    assert street["type"] == "LanguageProperty"
    assert street["languageMap"] == {"fr": "Grand Place"}
    assert "value" not in street
    assert normalized["config"][0]["json"] == {"value": 120}
    assert normalized["kind"][0]["vocab"] == "sightseeing"
    pairs = client.get(f"{BASE}/{CAR}", params={"options": "temporalValues"}).json()
    stamp = "2020-08-01T12:03:00Z"  # these kinds' pairs hold their member, as the standard shows
    assert pairs["street"]["languageMaps"] == [[{"languageMap": {"fr": "Grand Place"}}, stamp]]
    assert pairs["config"]["jsons"] == [[{"json": {"value": 120}}, stamp]]
    assert pairs["kind"]["vocabs"] == [[{"vocab": "sightseeing"}, stamp]]
    # timerel after holds the instance at exactly timeAt
    after = client.get(f"{BASE}/{CAR}", params={"timerel": "after", "attrs": "kind",
                                               "timeAt": "2020-08-01T12:03:00Z"}).json()  # fmt: skip
    assert len(after["kind"]) == 1


def _vehicle(entity_id: str, **attrs: list[dict[str, object]]) -> str:
    return json.dumps({"id": f"urn:ngsi-ld:Vehicle:{entity_id}", "type": "Vehicle", **attrs})


def _at(value: object, time: str, kind: str = "Property") -> dict[str, object]:
    return {"type": kind, "value": value, "observedAt": f"2026-03-01T{time}:00Z"}


WINDOW = {"type": "Vehicle", "timerel": "between", "timeAt": "2026-03-01T12:00:00Z",
          "endTimeAt": "2026-03-01T13:00:00Z"}  # fmt: skip


def test_scope_and_geo_queries_are_judged_in_the_window(
    client: TestClient, session: Session
) -> None:
    h = _writer(client, session)
    paris = {"type": "Point", "coordinates": [2.29, 48.85]}
    for body in (
        _vehicle("ab", scope=[_at("/A/B", "10:00")], speed=[_at("abval", "12:05")]),
        _vehicle("late", scope=[_at("/Z", "14:00")], speed=[_at("lateval", "12:05")]),
        _vehicle("rep", scope=[_at("/R", "10:00"), _at("/S", "12:30")],
                 speed=[_at("repold", "12:15"), _at("repnew", "12:45")]),
        _vehicle("paris", location=[_at(paris, "12:10", "GeoProperty")]),
        _vehicle("outside", location=[_at(paris, "08:00", "GeoProperty")]),
        _vehicle("old", speed=[_at("before", "09:00")]),
    ):  # fmt: skip
        assert client.post(BASE, headers=h, content=body).status_code == 201

    def ids(**params: str) -> set[str]:
        answer = client.get(BASE, params={**WINDOW, **params})
        assert answer.status_code == 200, answer.text
        return {e["id"].rsplit(":", 1)[1] for e in answer.json()}

    assert ids() == {"ab", "late", "rep", "paris"}  # "old" and "outside": nothing in the window
    assert ids(scopeQ="/A/#") == {"ab"}
    assert ids(scopeQ="/Z") == set()  # set only after the window
    old = client.get(BASE, params={**WINDOW, "scopeQ": "/R"}).json()[0]
    assert [i["value"] for i in old["speed"]] == ["repold"]  # while /R held, not after
    assert [i["value"] for i in old["scope"]] == ["/R"]  # set before the window, shown
    near = {"georel": "near;maxDistance==2000", "geometry": "Point",
            "coordinates": "[2.29,48.85]"}  # fmt: skip
    assert ids(**near) == {"paris"}
    assert ids(georel="disjoint", geometry="Point", coordinates="[2.29,48.85]") == set()


def test_the_form_aggregation_and_refusals_of_the_temporal_queries(
    client: TestClient, session: Session
) -> None:
    h = _writer(client, session)
    body = _vehicle("f", speed=[_at(10, "12:05"), _at(20, "12:10")])
    assert client.post(BASE, headers=h, content=body).status_code == 201
    pairs = client.get(BASE, params={**WINDOW, "format": "temporalValues",
                                     "options": "aggregatedValues", "aggrMethods": "sum"})  # fmt: skip
    assert pairs.json()[0]["speed"]["values"][0] == [10, "2026-03-01T12:05:00Z"]
    query = {"type": "Query", "entities": [{"type": "Vehicle"}],
             "temporalQ": {"timerel": "after", "timeAt": "2026-03-01T12:00:00Z"}}  # fmt: skip
    post = "/ngsi-ld/v1/temporal/entityOperations/query"
    averaged = client.post(post, headers=h, content=json.dumps(
        {**query, "aggrParams": {"aggrMethods": ["avg"]}})).json()  # fmt: skip
    assert averaged[0]["speed"]["avg"][0][0] == 15
    bogus = client.post(post, headers=h, content=json.dumps(
        {**query, "aggrParams": {"aggrMethods": ["avg"], "aggrPeriodDuration": "bogus"}}))  # fmt: skip
    assert bogus.status_code == 400
    linked = client.get(BASE, params={**WINDOW, "q": 'owner{name}=="x"'})
    assert linked.status_code == 400
    assert client.get(BASE, params={**WINDOW, "csf": "))bad(("}).status_code == 400
    one = f"{BASE}/urn:ngsi-ld:Vehicle:f"
    assert client.get(one, params={"pick": "unknown"}).status_code == 404
    assert client.get(one, params={"omit": "id,type,speed"}).status_code == 404
    assert client.get(one, params={"pick": "speed"}).status_code == 200
    appended = client.post(f"{BASE}/urn:ngsi-ld:Vehicle:none/attrs", headers=h,
                           content=json.dumps({"speed": [_at(1, "12:00")]}))  # fmt: skip
    assert appended.status_code == 404
