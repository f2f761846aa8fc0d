"""An anomaly rule's detector is one per series whichever process judges the readings: two
processes judging one gauge's readings by turns, or at once, hand the detector to each other
through its stored state, and none of its learning is lost or counted twice."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from citybase.core.db.engine import Database
from citybase.perception.rules import service as rules
from citybase.perception.rules.detector import Detector
from citybase.perception.rules.models import RuleState
from citybase.perception.rules.schemas import RuleIn, RuleKind, RuleRead
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import ReadingIn
from tests.perception.devices.test_telemetry import SYSTEM, city

T0 = datetime(2026, 11, 1, tzinfo=UTC)
FIRST = 2 * rules.STORE_EVERY  # the readings one process judges alone before the others start
ROOT = Path(__file__).resolve().parents[3]


def level(t: int) -> float:
    return 3 + 1.5 * math.sin(2 * math.pi * t / 96) + 0.05 * math.sin(t * 1.7)


def _gauge_with_a_rule(session: Session) -> RuleRead:
    city(session)
    return rules.put_rule(session, SYSTEM, RuleIn(
        name="水位异常", kind=RuleKind.anomaly, device_id="wl-1", attr="level"))  # fmt: skip


def _judge(session: Session, steps: range) -> None:
    readings = [ReadingIn(device_id="wl-1", ts=T0 + timedelta(minutes=5 * t),
                          values={"level": level(t)}) for t in steps]  # fmt: skip
    _, accepted = telemetry.ingest(session, readings, protocol="test",
                                   now=T0 + timedelta(days=30))  # fmt: skip
    rules.judge(session, accepted)


@contextmanager
def _process(monkeypatch: pytest.MonkeyPatch, name: str, memory: dict[str, dict]) -> Iterator[None]:  # type: ignore[type-arg]
    """Judge as another process would: its own detectors in memory and its own name."""
    with monkeypatch.context() as m:
        m.setattr(rules, "_detectors", memory.setdefault("detectors", {}))
        m.setattr(rules, "_stored_at", memory.setdefault("stored_at", {}))
        m.setattr(rules, "_shared_until", memory.setdefault("shared_until", {}))
        m.setattr(rules, "writer", lambda: name)
        yield


def _stored(session: Session, rule_id: int) -> RuleState:
    session.flush()
    state = session.get(RuleState, (rule_id, "wl-1"))
    assert state is not None
    session.refresh(state)
    assert state.detector is not None
    return state


def test_two_processes_judging_by_turns_share_one_detector(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = _gauge_with_a_rule(session)
    a: dict[str, dict] = {}  # type: ignore[type-arg]
    b: dict[str, dict] = {}  # type: ignore[type-arg]
    with _process(monkeypatch, "a", a):
        _judge(session, range(FIRST))  # alone: written every STORE_EVERY readings
    assert _stored(session, rule.id).detector["state"]["seen"] == FIRST  # type: ignore[index]
    assert _stored(session, rule.id).detector_writer == "a"
    t = FIRST
    for turn in range(31):  # by turns, sometimes twice running, in batches of 3
        name, memory = ("a", a) if turn % 3 else ("b", b)
        with _process(monkeypatch, name, memory):
            _judge(session, range(t, t + 3))
        t += 3
        state = _stored(session, rule.id)
        # every batch is written once the other process is seen, so the next takes it whole
        assert state.detector["state"]["seen"] == t  # type: ignore[index]
        assert state.detector_writer == name
    [(detector, version, _)] = a["detectors"].values()
    assert detector.seen == t - 3
    assert version < _stored(session, rule.id).detector_version
    [(detector, version, _)] = b["detectors"].values()
    assert detector.seen == t
    assert version == _stored(session, rule.id).detector_version


def test_a_process_alone_writes_its_detector_first_then_every_so_often(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = _gauge_with_a_rule(session)
    with _process(monkeypatch, "a", {}):
        _judge(session, range(10))  # written at once, so that another process would see it
        assert _stored(session, rule.id).detector_version == 1
        for t in range(10, 10 + rules.STORE_EVERY + 5):
            _judge(session, range(t, t + 1))
    state = _stored(session, rule.id)
    assert state.detector["state"]["seen"] == 10 + rules.STORE_EVERY  # type: ignore[index]
    assert state.detector_version == 2


def test_two_processes_starting_together_share_from_the_first_batch(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = _gauge_with_a_rule(session)
    a: dict[str, dict] = {}  # type: ignore[type-arg]
    b: dict[str, dict] = {}  # type: ignore[type-arg]
    for turn in range(12):
        with _process(monkeypatch, *(("a", a) if turn % 2 == 0 else ("b", b))):
            _judge(session, range(3 * turn, 3 * turn + 3))
        assert _stored(session, rule.id).detector["state"]["seen"] == 3 * turn + 3  # type: ignore[index]


def test_a_batch_rolled_back_leaves_no_learning_in_memory(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _gauge_with_a_rule(session)
    with _process(monkeypatch, "a", {}):
        _judge(session, range(20))
        savepoint = session.begin_nested()
        _judge(session, range(20, 30))  # taught, then rolled back with the readings
        savepoint.rollback()
        assert rules._detectors == {}  # forgotten: read again from what is stored
        _judge(session, range(20, 30))  # the same readings, now stored
        [(detector, _, _)] = rules._detectors.values()
        assert detector.seen == 30  # learnt once, not twice


def test_a_reading_judged_again_is_not_learnt_twice(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _gauge_with_a_rule(session)
    with _process(monkeypatch, "a", {}):
        _judge(session, range(20))
        _judge(session, range(15, 20))  # delivered again (an acknowledgement lost)
        [(detector, _, _)] = rules._detectors.values()
        assert detector.seen == 20


@pytest.mark.slow
def test_two_processes_judging_at_once_lose_no_learning(fresh_db: Database) -> None:
    with fresh_db.session_scope() as session:
        rule = _gauge_with_a_rule(session)
        rules._detectors.clear()
        _judge(session, range(FIRST))
    url = fresh_db.engine.url.render_as_string(hide_password=False)
    batches = 25
    children = [subprocess.Popen(
        [sys.executable, "-m", "tests.perception.rules.judging_process", url, str(parity),
         str(batches)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for parity in (0, 1)]  # fmt: skip
    learnt = 0
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        learnt += int(out.split()[-1])
    # readings taken after a later one of the other process are late and not learnt from; each
    # of the others is learnt from once, by the one detector, whose last state is stored
    assert 4 * batches <= learnt <= 8 * batches
    with fresh_db.session_scope(readonly=True) as session:
        state = session.get(RuleState, (rule.id, "wl-1"))
        assert state is not None
        assert state.detector is not None
        assert state.detector["state"]["seen"] == FIRST + learnt
        assert Detector.from_state(state.detector["state"]).seen == FIRST + learnt
