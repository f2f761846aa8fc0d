"""An anomaly rule over ingested readings: it alarms with its reasons, and its detector's
memory is stored with the rule's state, so that a restart does not start it anew."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.perception.rules import service as rules
from citybase.perception.rules.models import RuleState
from citybase.perception.rules.schemas import RuleIn, RuleKind
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import ReadingIn
from tests.core.identity.factories import make_user, sign_in
from tests.perception.devices.test_telemetry import SYSTEM, city

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _levels(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [3 + 1.5 * math.sin(2 * math.pi * t / 96) + rng.gauss(0, 0.1) for t in range(n)]


def _send(session: Session, start: int, values: list[float]) -> list[str]:
    readings = [ReadingIn(device_id="wl-1", ts=T0 + timedelta(minutes=5 * (start + i)),
                          values={"level": v}) for i, v in enumerate(values)]  # fmt: skip
    _, accepted = telemetry.ingest(session, readings, protocol="test",
                                   now=T0 + timedelta(days=30))  # fmt: skip
    return [a.message for a in rules.judge(session, accepted)]


def test_an_anomaly_rule_alarms_with_reasons_and_its_detector_outlives_a_restart(
    session: Session,
) -> None:
    city(session)
    rule = rules.put_rule(session, SYSTEM, RuleIn(
        name="水位异常", kind=RuleKind.anomaly, device_id="wl-1", attr="level"))  # fmt: skip
    rules._detectors.clear()
    rules._stored_at.clear()
    assert _send(session, 0, _levels(400)) == []
    state = session.get(RuleState, (rule.id, "wl-1"))
    assert state is not None
    assert state.detector is not None
    assert state.detector["attr"] == "level"
    stored_seen = state.detector["state"]["seen"]
    assert 400 - rules.STORE_EVERY < stored_seen <= 400
    # a restart: the memory of the process is gone, the stored state is not
    rules._detectors.clear()
    rules._stored_at.clear()
    assert _send(session, 400, _levels(100, seed=2)) == []
    [(detector, _, _)] = rules._detectors.values()
    assert detector.seen == stored_seen + 100  # it went on, it did not warm up again
    [raised] = _send(session, 500, [9.5])
    assert "level 9.5 is unusual" in raised
    assert "higher than any reading before" in raised
    assert "expected" in raised


def test_an_anomaly_rule_refuses_a_score_outside_0_to_1() -> None:
    for score in (0, 1.5, -1):
        with pytest.raises(ValidationError, match="at most 1"):
            RuleIn(name="x", kind=RuleKind.anomaly, device_id="wl-1", attr="level",
                   params={"score": score})  # fmt: skip


def test_the_api_refuses_a_bad_anomaly_score_and_strangers(
    client: TestClient, session: Session
) -> None:
    city(session)
    rule = {"name": "水位异常", "kind": "anomaly", "device_id": "wl-1", "attr": "level",
            "params": {"score": 0.7}}  # fmt: skip
    stranger = client.post("/api/v1/perception/rules", json=rule)
    assert stranger.status_code == 401
    make_user(session, "admin", Role.platform_admin)
    token = sign_in(client, "admin")
    headers = {"X-CSRF-Token": token}
    bad = client.post("/api/v1/perception/rules", headers=headers,
                      json={**rule, "params": {"score": 7}})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "invalid"  # the API's own error format
    assert "at most 1" in bad.text
    assert rules.rules(session) == []
    made = client.post("/api/v1/perception/rules", headers=headers, json=rule)
    assert made.status_code == 201, made.text
    assert made.json()["params"] == {"score": 0.7}
