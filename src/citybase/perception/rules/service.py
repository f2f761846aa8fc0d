"""Rules and alarms: each stored reading judged by the rules that watch its device (thresholds
held for a while, rates of change, geofences, the anomaly detector), silence judged by a
periodic sweep; an alarm is opened once while its condition holds — kept, on the ledger and
published as ``perception.alarm`` for the city brain — and closed when it no longer holds."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, event, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, defer

from citybase.core.bus import service as bus
from citybase.core.errors import InvalidInput, NotFound
from citybase.core.geo import distance_m
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.perception.devices import service as devices
from citybase.perception.rules import forecast as forecasting
from citybase.perception.rules.detector import Detector
from citybase.perception.rules.models import AlarmRecord, Rule, RuleState
from citybase.perception.rules.schemas import (
    Alarm,
    AlarmRead,
    ForecastRead,
    ForecastStep,
    RuleIn,
    RuleKind,
    RuleRead,
)
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import Accepted

SYSTEM = Actor.system("perception")
# Each process holds the detectors it judged with, with the version of the stored state they
# stand for; a stored state of another version means another process judged the series since,
# and the detector is read again from it (see docs/perception.md, "Several ingesting processes").
_detectors: dict[tuple[int, str, str], tuple[Detector, int, str]] = {}  # version, writer
_TOUCHED = "perception.detectors"  # session.info: the detectors a transaction taught
_stored_at: dict[tuple[int, str, str], int] = {}  # readings learnt when last stored
_shared_until: dict[tuple[int, str, str], float] = {}  # written at every batch until then
_lock = threading.Lock()
_BOOT = uuid.uuid4().hex[:12]
STORE_EVERY = 64  # a detector's state is written at most once per this many readings
SHARED_SECONDS = 600.0  # once another process judged a series, how long each batch is written
ANOMALY_SCORE = 0.6  # an anomaly rule's threshold when it names none (see docs/perception.md)


def put_rule(session: Session, actor: Actor, data: RuleIn, rule_id: int | None = None) -> RuleRead:
    check(data)
    if data.type_code:
        devices.get_type(session, data.type_code)
    if data.device_id:
        devices.get_device(session, data.device_id)
    if rule_id is None:
        rule = Rule()
    else:
        found = session.get(Rule, rule_id)
        if found is None:
            raise NotFound(f"no rule {rule_id}", field="id")
        rule = found
    for key, value in data.model_dump(mode="json").items():
        setattr(rule, key, value)
    session.add(rule)
    session.flush()
    ledger.record(session, actor, "perception.rule.put", object_type="rule", object_id=rule.id,
                  details=data.model_dump(mode="json"))  # fmt: skip
    return RuleRead.model_validate(rule)


def rules(session: Session) -> list[RuleRead]:
    return [RuleRead.model_validate(r) for r in session.scalars(select(Rule).order_by(Rule.id))]


def alarms(
    session: Session, *, open_only: bool = False, device_id: str = "", limit: int = 200
) -> list[AlarmRead]:
    query = select(AlarmRecord).order_by(AlarmRecord.opened_at.desc()).limit(limit)
    if device_id:
        query = query.where(AlarmRecord.device_id == device_id)
    if open_only:
        query = query.where(AlarmRecord.closed_at.is_(None))
    return [AlarmRead.model_validate(a) for a in session.scalars(query)]


def _watching(session: Session, device_ids: Iterable[str]) -> dict[str, list[Rule]]:
    """The active rules watching each of these devices (by id or by type)."""
    ids = set(device_ids)
    active = list(session.scalars(select(Rule).where(Rule.active.is_(True))))
    if not active:
        return {}
    types = devices.type_codes(session, ids)
    out: dict[str, list[Rule]] = {}
    for device_id in ids:
        found = [r for r in active if r.device_id == device_id
                 or (r.type_code and r.type_code == types.get(device_id))]  # fmt: skip
        if found:
            out[device_id] = found
    return out


def _state(session: Session, rule: Rule, device_id: str,
           states: dict[tuple[int, str], RuleState] | None = None) -> RuleState:  # fmt: skip
    """The rule's state for the device, made when it has none (``states``: those the caller
    looked up at once, held here so that the session does not forget and read them again)."""
    key = (rule.id, device_id)
    found = states.get(key) if states is not None else session.get(RuleState, key)
    if found is None:
        found = RuleState(rule_id=rule.id, device_id=device_id)
        session.add(found)
    if states is not None:
        states[key] = found
    return found


def writer() -> str:
    """This process, as named on the detector states it writes (the pid is read at each call:
    a worker forked from another is another writer)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_BOOT}"[:100]


def _held_states(session: Session, watching: dict[str, list[Rule]],
                 ) -> dict[tuple[int, str], RuleState]:  # fmt: skip
    """The states of the rules watching these devices, made where missing and locked for this
    transaction (in one order, so that two batches wait for each other rather than deadlock):
    two processes judging one device's readings take their turns, each seeing what the other
    wrote."""
    wanted = {(r.id, d) for d, found in watching.items() for r in found
              if r.kind in (RuleKind.threshold, RuleKind.rate, RuleKind.anomaly)}  # fmt: skip
    if not wanted:
        return {}

    def locked(keys: set[tuple[int, str]]) -> dict[tuple[int, str], RuleState]:
        return {(st.rule_id, st.device_id): st for st in session.scalars(
            select(RuleState).where(RuleState.device_id.in_({d for _, d in keys}))
            .order_by(RuleState.rule_id, RuleState.device_id)
            .options(defer(RuleState.detector))
            .with_for_update().execution_options(populate_existing=True))}  # fmt: skip

    states = locked(wanted)
    missing = wanted - states.keys()
    if missing:
        table = RuleState.__table__
        assert isinstance(table, Table)
        make = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
        session.execute(make(table).on_conflict_do_nothing(),
                        [{"rule_id": r, "device_id": d} for r, d in sorted(missing)])  # fmt: skip
        states |= locked(missing)
    return states


def _open(session: Session, rule: Rule, device_id: str) -> AlarmRecord | None:
    return session.scalar(select(AlarmRecord).where(
        AlarmRecord.rule_id == rule.id, AlarmRecord.device_id == device_id,
        AlarmRecord.closed_at.is_(None)))  # fmt: skip


def _raise(session: Session, rule: Rule, device_id: str, attr: str, value: float | None,
           message: str, at: datetime, open_alarms: set[tuple[int, str]] | None = None,
           ) -> AlarmRecord | None:  # fmt: skip
    if open_alarms is not None:
        if (rule.id, device_id) in open_alarms:
            return None
        open_alarms.add((rule.id, device_id))
    elif _open(session, rule, device_id) is not None:
        return None
    device = devices.get_device(session, device_id)
    record = AlarmRecord(rule_id=rule.id, device_id=device_id, attr=attr, level=rule.level,
                         kind=rule.alarm_kind or rule.kind, message=message, value=value,
                         opened_at=at)  # fmt: skip
    session.add(record)
    session.flush()
    bus.publish(session, Alarm(
        device_id=device_id, kind=record.kind, level=rule.level,
        message=f"{device.name or device_id}：{message}", value=value, lon=device.lon,
        lat=device.lat, region_code=device.region_code, address=device.address,
    ))  # fmt: skip
    ledger.record(session, SYSTEM, "perception.alarm.raised", object_type="device",
                  object_id=device_id, details={"rule": rule.id, "message": message})  # fmt: skip
    return record


def _close(session: Session, rule: Rule, device_id: str, at: datetime,
           open_alarms: set[tuple[int, str]] | None = None) -> None:  # fmt: skip
    """Close the rule's open alarm for the device, if any (``open_alarms``: those known open,
    when the caller has looked them up at once; then no query is made for the others)."""
    if open_alarms is not None:
        if (rule.id, device_id) not in open_alarms:
            return
        open_alarms.discard((rule.id, device_id))
    found = _open(session, rule, device_id)
    if found is not None:
        found.closed_at = at


def _beyond(op: str, value: float, limit: float) -> bool:
    return {">": value > limit, ">=": value >= limit, "<": value < limit,
            "<=": value <= limit}[op]  # fmt: skip


def judge(session: Session, readings: list[Accepted]) -> list[AlarmRecord]:
    """Judge stored readings by the rules that watch their devices, oldest first."""
    if not readings:
        return []
    watching = _watching(session, {r.device_id for r in readings})
    if not watching:
        return []
    raised: list[AlarmRecord] = []
    by_moment: dict[tuple[str, datetime], dict[str, object]] = {}
    for r in readings:
        if r.device_id in watching:
            by_moment.setdefault((r.device_id, r.ts), {}).update(r.values)
    # what the rules need of the database, looked up at once rather than reading by reading:
    # their states (into the session) and which of their alarms are open (after the states are
    # locked, so that an alarm opened by another process's batch is seen here)
    watched = list(watching)
    states = _held_states(session, watching)
    open_alarms = {(a, d) for a, d in session.execute(
        select(AlarmRecord.rule_id, AlarmRecord.device_id).where(
            AlarmRecord.device_id.in_(watched), AlarmRecord.closed_at.is_(None)))}  # fmt: skip
    learnt: dict[tuple[int, str, str], RuleState] = {}
    for (device_id, at), values in sorted(by_moment.items(), key=lambda kv: kv[0][1]):
        for rule in watching.get(device_id, []):
            found = _judge_one(session, rule, device_id, at, values, open_alarms, states, learnt)
            if found is not None:
                raised.append(found)
    _keep(session, learnt)
    return raised


def _detector(session: Session, state: RuleState, key: tuple[int, str, str]) -> Detector:
    """The series' detector: the one in memory if the stored state is still the one it stands
    for (same version, same writer), else read again from the stored state. When the stored one
    was written by another process in the last ``SHARED_SECONDS``, that process judges the
    series too: this one then writes it at every batch for a while, so that the processes hand
    it to each other whole. Called with ``_lock`` held."""
    held = _detectors.get(key)
    if held is not None and held[1:] == (state.detector_version, state.detector_writer):
        return held[0]
    written = state.detector_written_at
    if (
        state.detector_writer not in ("", writer())
        and written is not None
        and (datetime.now(UTC) - written).total_seconds() < SHARED_SECONDS
    ):
        _shared_until[key] = time.monotonic() + SHARED_SECONDS
    if inspect(state).persistent:  # read as stored now, not as this session last saw it
        session.expire(state, ["detector"])
    detector = _restore(state, key[2])
    _detectors[key] = (detector, state.detector_version, state.detector_writer)
    _stored_at[key] = detector.seen
    return detector


def _keep(session: Session, learnt: dict[tuple[int, str, str], RuleState]) -> None:
    """Write the detectors this batch taught: the first time (so that another process judging
    the series sees this one), then every ``STORE_EVERY`` readings (so that a restart goes on
    from them), or at every batch while another process judges the series too. The detectors
    in memory are forgotten if the transaction is rolled back (``_forget``)."""
    me, now = writer(), time.monotonic()
    with _lock:
        session.info.setdefault(_TOUCHED, set()).update(learnt)
        for key, state in learnt.items():
            detector, version, _ = _detectors[key]
            shared = _shared_until.get(key, 0.0) > now
            if version and not shared and detector.seen - _stored_at.get(key, 0) < STORE_EVERY:
                continue
            state.detector = {"attr": key[2], "state": detector.state()}
            state.detector_version, state.detector_writer = version + 1, me
            state.detector_written_at = datetime.now(UTC)
            _detectors[key] = (detector, version + 1, me)
            _stored_at[key] = detector.seen


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous_transaction: Any) -> None:
    """A rolled-back batch (or savepoint) taught the detectors it touched readings that are not
    stored: they are read again from their stored state when next needed."""
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        with _lock:
            for key in touched:
                _detectors.pop(key, None)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def _judge_one(session: Session, rule: Rule, device_id: str, at: datetime,
               values: dict[str, object], open_alarms: set[tuple[int, str]],
               states: dict[tuple[int, str], RuleState],
               learnt: dict[tuple[int, str, str], RuleState]) -> AlarmRecord | None:  # fmt: skip
    p = rule.params
    if rule.kind == RuleKind.geofence:
        lon, lat = values.get("lon"), values.get("lat")
        if not isinstance(lon, int | float) or not isinstance(lat, int | float):
            return None
        inside = distance_m(lon, lat, p["lon"], p["lat"]) <= p["radius_m"]
        wrong = inside if p.get("inside", False) else not inside
        if not wrong:
            _close(session, rule, device_id, at, open_alarms)
            return None
        where = "entered" if inside else "left"
        return _raise(session, rule, device_id, "", None,
                      f"{rule.name}: {where} the area ({p['radius_m']:.0f} m)", at,
                      open_alarms)  # fmt: skip
    value = values.get(rule.attr)
    if rule.kind == RuleKind.silence or not isinstance(value, int | float):
        return None
    number = float(value)  # true/false judged as 1/0 (a smoke detector's "smoke > 0")
    state = _state(session, rule, device_id, states)
    previous, previous_at = state.last_value, state.last_ts
    if previous_at is not None and at < previous_at:
        return None  # a late reading does not move the rule's memory back
    state.last_value, state.last_ts = number, at
    if rule.kind == RuleKind.threshold:
        if not _beyond(p["op"], number, p["limit"]):
            state.since = None
            _close(session, rule, device_id, at, open_alarms)
            return None
        state.since = state.since or at
        if at - state.since < timedelta(minutes=p.get("for_minutes", 0)):
            return None
        return _raise(session, rule, device_id, rule.attr, number,
                      f"{rule.name}: {rule.attr} {number:g} {p['op']} {p['limit']:g}", at,
                      open_alarms)  # fmt: skip
    if rule.kind == RuleKind.rate:
        if previous is None or previous_at is None or at == previous_at:
            return None
        per = p.get("per_minutes", 1) * 60
        change = (number - previous) / (at - previous_at).total_seconds() * per
        if abs(change) <= p["max_change"]:
            _close(session, rule, device_id, at, open_alarms)
            return None
        return _raise(session, rule, device_id, rule.attr, number,
                      f"{rule.name}: {rule.attr} changing {change:+.3g} per "
                      f"{p.get('per_minutes', 1):g} min", at, open_alarms)  # fmt: skip
    if rule.kind == RuleKind.anomaly:
        if at == previous_at:
            return None  # a moment learnt from already (a message delivered again) is not again
        key = (rule.id, device_id, rule.attr)
        with _lock:
            detector = _detector(session, state, key)
            score = detector.update(at, number)
            learnt[key] = state
            why = detector.explain() if score >= p.get("score", ANOMALY_SCORE) else ""
        if score < p.get("score", ANOMALY_SCORE):
            _close(session, rule, device_id, at, open_alarms)
            return None
        return _raise(session, rule, device_id, rule.attr, number,
                      f"{rule.name}: {rule.attr} {number:g} is unusual (score {score:.2f}): "
                      f"{why}", at, open_alarms)  # fmt: skip
    return None


def _restore(state: RuleState, attr: str) -> Detector:
    """The detector as last stored for this rule and device, or a new one (nothing stored,
    stored for another attribute, or in a form this version does not read)."""
    stored = state.detector
    if isinstance(stored, dict) and stored.get("attr") == attr:
        try:
            return Detector.from_state(stored["state"])
        except (KeyError, TypeError, ValueError):
            pass
    return Detector()


def sweep_silence(session: Session, now: datetime | None = None) -> list[AlarmRecord]:
    """Silence rules: an alarm for each watched device not heard from for the rule's minutes."""
    now = now or datetime.now(UTC)
    raised = []
    silent_rules = [r for r in session.scalars(select(Rule).where(Rule.active.is_(True)))
                    if r.kind == RuleKind.silence]  # fmt: skip
    for rule in silent_rules:
        for device in devices.watched_by(session, rule.device_id, rule.type_code):
            limit = timedelta(minutes=rule.params["minutes"])
            quiet = device.last_seen_at is None or now - device.last_seen_at > limit
            if not quiet:
                _close(session, rule, device.device_id, now)
                continue
            heard = device.last_seen_at.isoformat(timespec="minutes") \
                if device.last_seen_at else "never"  # fmt: skip
            found = _raise(session, rule, device.device_id, "", None,
                           f"{rule.name}: no reading for over {rule.params['minutes']:g} min "
                           f"(last {heard})", now)  # fmt: skip
            if found is not None:
                raised.append(found)
    return raised


def check(data: RuleIn) -> None:
    """Refuse a rule whose parameters make no sense beyond their shape."""
    p = data.params
    if data.kind == RuleKind.silence and p["minutes"] <= 0:
        raise InvalidInput("silence minutes must be above 0", field="params.minutes")


FORECAST_HOURS_BACK = 9 * 24  # a week's season, and a day of origins to choose by


def forecast_series(
    session: Session, device_id: str, attr: str, *, hours_back: int = FORECAST_HOURS_BACK,
    now: datetime | None = None, expected_hours: int = 0,
) -> ForecastRead:  # fmt: skip
    """The next hour of one attribute, in 5-minute steps with 80 % and 95 % intervals, from
    its last ``hours_back`` hours; with ``expected_hours``, the band expected of its readings
    over those last hours too."""
    now = now or datetime.now(UTC)
    points = telemetry.history(session, device_id, attr, now - timedelta(hours=hours_back), now)
    history = [(p.ts, p.value) for p in points if p.value is not None]
    try:
        found = forecasting.forecast(history, expected=expected_hours * 12)
    except ValueError as exc:
        raise InvalidInput(f"cannot forecast {device_id} {attr}: {exc}", field="attr") from None
    return ForecastRead(device_id=device_id, attr=attr, method=found.method,
                        backtest_mae=found.backtest_mae,
                        steps=[ForecastStep(**vars(p)) for p in found.points],
                        expected=[ForecastStep(**vars(p)) for p in found.expected])  # fmt: skip
