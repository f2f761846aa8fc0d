"""The HTTP batch refuses readings one by one, never the batch for one of them; the dead letters
are listed for those who manage devices, as JSON and on the console."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.telemetry import service
from tests.core.identity.factories import make_user, sign_in
from tests.perception.devices.test_telemetry import city


def test_the_batch_refuses_readings_one_by_one(client: TestClient, session: Session) -> None:
    city(session)
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    token = sign_in(client, "water")
    now = datetime.now(UTC).isoformat()
    body = [
        {"device_id": "wl-1", "ts": now, "values": {"level": 1.5}},
        {"device_id": "w" * 101, "ts": now, "values": {"level": 1.5}},
        {"device_id": "wl-1", "ts": "1969-12-31T23:59:59+00:00", "values": {"level": 1.0}},
        {"device_id": "wl-1", "ts": "2101-01-01T00:00:00+00:00", "values": {"level": 1.0}},
        {"device_id": "wl-1", "ts": "10000-01-01T00:00:00Z", "values": {"level": 1.0}},
        {"device_id": "wl-2", "ts": now, "values": {"level": 10**400}},
        "not a reading",
        {"device_id": "wl-2", "ts": now, "values": {"level": 2.5}, "extra": 1},
        {"device_id": "wl-2", "ts": now, "values": {"level": 2.5}},
    ]
    # 10**400 is no JSON that orjson reads, nor any float: written out by hand
    big = f'{{"device_id": "wl-2", "ts": "{now}", "values": {{"level": {"9" * 400}}}}}'
    raw = "[" + ",".join(big if i == 5 else _json(item) for i, item in enumerate(body)) + "]"
    answer = client.post("/api/v1/perception/readings", content=raw.encode(),
                         headers={"X-CSRF-Token": token, "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["accepted"] == 2
    refused = {r["index"]: r for r in report["rejected"]}
    assert sorted(refused) == [1, 2, 3, 4, 5, 6, 7]
    assert refused[1]["reason"] == "device id longer than 100 characters"
    assert len(refused[1]["device_id"]) == 100
    assert "outside the years 1970–2100" in refused[2]["reason"]
    assert "outside the years 1970–2100" in refused[3]["reason"]
    assert refused[4]["reason"].startswith("ts:")
    assert "a number is expected" in refused[5]["reason"]
    assert "object" in refused[6]["reason"]
    assert refused[7]["reason"].startswith("extra:")
    assert service.REJECTED[("http", "time_out_of_range")] >= 2
    assert service.REJECTED[("http", "device_id_too_long")] >= 1
    got = client.get("/api/v1/perception/devices/wl-2/series/level", params={"last": 5})
    assert [p["value"] for p in got.json()] == [2.5]
    # the batch as a whole: not a list, not JSON
    for content, status in ((b'{"device_id": "wl-1"}', 422), (b"[{", 400)):
        whole = client.post("/api/v1/perception/readings", content=content,
                            headers={"X-CSRF-Token": token, "Content-Type": "application/json"})  # fmt: skip
        assert whole.status_code == status, whole.text
        assert whole.json()["error"]["field"] == "body"


def _json(item: object) -> str:
    import json

    return json.dumps(item)


def test_dead_letters_are_listed_newest_first(client: TestClient, session: Session) -> None:
    city(session)
    for n in range(3):
        service.keep_dead_letter(session, "citybase/wl-1/attrs", f"bad {n}".encode(), "malformed: x",
                                 "malformed", device_id="wl-1",
                                 received_at=datetime(2026, 12, 1, n, tzinfo=UTC))  # fmt: skip
    service.keep_dead_letter(session, "citybase/wl-3/attrs", b"\xff\xfe", "malformed: not UTF-8",
                             "malformed", device_id="wl-3")  # fmt: skip
    service.keep_dead_letter(session, "citybase/zz/attrs", b"{}", "unknown device zz",
                             "unknown_device", device_id="zz")  # fmt: skip
    make_user(session, "root", Role.platform_admin)
    sign_in(client, "root")
    everything = client.get("/api/v1/perception/dead-letters", params={"per_page": 2})
    assert everything.status_code == 200, everything.text
    assert everything.json()["total"] == 5
    later = client.get("/api/v1/perception/dead-letters", params={"per_page": 2, "page": 3}).json()
    assert [d["payload"] for d in later["items"]] == ["bad 0"]
    page = client.get("/console/perception/dead-letters")
    assert page.status_code == 200
    assert "异常消息" in page.text
    assert "格式错误" in page.text
    assert "未知设备" in page.text
    client.cookies.clear()
    make_user(session, "water", Role.unit_admin, unit="fz.water")
    sign_in(client, "water")
    own = client.get("/api/v1/perception/dead-letters").json()
    assert own["total"] == 3  # its unit's devices only: not gl.urban's wl-3 nor the unknown zz
    assert [d["payload"] for d in own["items"]] == ["bad 2", "bad 1", "bad 0"]
    assert "bad 2" in client.get("/console/perception/dead-letters").text
