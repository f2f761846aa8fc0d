"""Storing readings and reading them back.

``ingest`` takes a batch of readings from any protocol: each reading (one device, one moment,
its values) is checked against the device's type and stored whole or refused whole with the
reason; the accepted ones are written with a few statements for the whole batch, in the caller's
transaction — a protocol acknowledges only after that transaction commits. Readings are keyed by
series and time, so one delivered again (an MQTT redelivery, a retried HTTP batch) is stored
once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.perception.devices import service as devices
from citybase.perception.telemetry import repository
from citybase.perception.telemetry.schemas import (
    Accepted,
    Agg,
    Bucket,
    IngestReport,
    LatestValue,
    Point,
    Reading,
    Rejected,
    as_epoch_ms,
    from_epoch_ms,
)

# readings taken and refused since the process started, by protocol and by reason (for /metrics)
ACCEPTED: Counter[str] = Counter()
REJECTED: Counter[tuple[str, str]] = Counter()
MAX_BATCH = 10_000


def _reason_kind(reason: str) -> str:
    for kind in ("unknown device", "retired", "not an attribute", "expected", "outside",
                 "no values", "not yours", "time"):  # fmt: skip
        if kind in reason:
            return kind.replace(" ", "_")
    return "other"


def ingest(
    session: Session,
    readings: Sequence[Reading],
    *,
    protocol: str,
    unit: str | None = None,
    now: datetime | None = None,
) -> tuple[IngestReport, list[Accepted]]:
    """Check and store a batch; ``unit``: the sender may only report its own unit's devices
    (None: any). Returns the report and what was stored, for the rules."""
    if len(readings) > MAX_BATCH:
        raise InvalidInput(f"at most {MAX_BATCH:,} readings in one batch", field="readings")
    now = now or datetime.now(UTC)
    horizon = now + timedelta(minutes=5)
    catalog = devices.Catalog(session, {r.device_id for r in readings})
    rejected: list[Rejected] = []
    good: list[tuple[str, datetime, dict[str, Any]]] = []
    latest_seen: dict[str, datetime] = {}
    for index, reading in enumerate(readings):
        device_id = reading.device_id
        reason = catalog.problem(device_id, reading.values)
        if reason is None and unit is not None and catalog.owner(device_id) != unit:
            reason = f"device {device_id} is not yours to report (it belongs to " \
                     f"{catalog.owner(device_id) or 'no unit'})"  # fmt: skip
        at = reading.ts or now
        if reason is None and at.tzinfo is None:
            reason = "time without a zone: give Z or +08:00"
        elif reason is None and at > horizon:
            reason = f"time {at.isoformat()} is in the future"
        if reason is not None:
            rejected.append(Rejected(index=index, device_id=device_id, reason=reason))
            REJECTED[(protocol, _reason_kind(reason))] += 1
            continue
        good.append((device_id, at, reading.values))
        seen = latest_seen.get(device_id)
        if seen is None or seen < at:
            latest_seen[device_id] = at
    accepted: list[Accepted] = []
    if good:
        ids = repository.series_ids(session, {(d, a) for d, _, values in good for a in values})
        rows: list[tuple[int, int, float | None, str | None]] = []
        newest: dict[int, tuple[int, int, float | None, str | None]] = {}
        for device_id, at, values in good:  # the hot loop: kept plain
            ts = int(at.timestamp() * 1000)
            for attr, value in values.items():
                sid = ids[(device_id, attr)]
                kind = type(value)
                row = (sid, ts, None if kind is str else float(value),
                       value if kind is str else None)  # fmt: skip
                rows.append(row)
                before = newest.get(sid)
                if before is None or before[1] <= ts:
                    newest[sid] = row
            # stored to the millisecond: the rules see the time as stored
            accepted.append(Accepted(device_id, at if at.microsecond % 1000 == 0 and
                                     at.tzinfo is UTC else from_epoch_ms(ts), values))  # fmt: skip
        repository.add_readings(session, rows)
        repository.set_latest(session, list(newest.values()))
        devices.seen(session, latest_seen)
    ACCEPTED[protocol] += len(good)
    return IngestReport(accepted=len(good), rejected=rejected), accepted


def _series(session: Session, device_id: str, attr: str) -> int:
    found = repository.series_of(session, device_id)
    if attr not in found:
        devices.get_device(session, device_id)  # 404 for an unknown device first
        raise NotFound(f"device {device_id} has no readings of {attr}", field="attr")
    return found[attr]


def latest(session: Session, device_id: str) -> list[LatestValue]:
    devices.get_device(session, device_id)
    return [LatestValue(attr=a, ts=from_epoch_ms(ts), value=v, text=t)
            for a, ts, v, t in repository.latest(session, device_id)]  # fmt: skip


def latest_all(session: Session) -> dict[str, dict[str, tuple[datetime, float | None]]]:
    """device → attribute → (time, value) of every series' newest reading."""
    out: dict[str, dict[str, tuple[datetime, float | None]]] = {}
    for device_id, attr, ts, value in repository.latest_all(session):
        out.setdefault(device_id, {})[attr] = (from_epoch_ms(ts), value)
    return out


def history(
    session: Session,
    device_id: str,
    attr: str,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
) -> list[Point]:
    """Readings of one attribute in [start, end), oldest first; ``last``: only the newest N."""
    if last is not None and not 1 <= last <= 100_000:
        raise InvalidInput("last is 1 to 100,000", field="last")
    sid = _series(session, device_id, attr)
    rows = repository.points(session, sid, as_epoch_ms(start) if start else None,
                             as_epoch_ms(end) if end else None, last)  # fmt: skip
    return [Point(ts=from_epoch_ms(ts), value=v, text=t) for ts, v, t in rows]


def aggregate(
    session: Session,
    device_id: str,
    attr: str,
    start: datetime,
    end: datetime,
    every: timedelta,
    agg: Agg,
) -> list[Bucket]:
    """avg, min, max, sum or count of one attribute per interval of ``every`` from ``start``;
    intervals with no reading are left out."""
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if every.total_seconds() < 1:
        raise InvalidInput("the interval is at least one second", field="every")
    if (end - start) / every > 100_000:
        raise InvalidInput("at most 100,000 intervals", field="every")
    sid = _series(session, device_id, attr)
    rows = repository.buckets(session, sid, as_epoch_ms(start), as_epoch_ms(end),
                              int(every.total_seconds() * 1000), agg.value)  # fmt: skip
    return [Bucket(start=from_epoch_ms(b), value=v, count=n) for b, v, n in rows]
