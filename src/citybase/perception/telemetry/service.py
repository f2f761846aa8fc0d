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

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.perception.devices import service as devices
from citybase.perception.telemetry import repository
from citybase.perception.telemetry.models import DeadLetter
from citybase.perception.telemetry.schemas import (
    Accepted,
    Agg,
    Bucket,
    DeadLetterPage,
    DeadLetterRead,
    IngestReport,
    LatestValue,
    Point,
    Reading,
    ReadingIn,
    Rejected,
    as_epoch_ms,
    from_epoch_ms,
)

# readings taken and refused since the process started, by protocol and by reason (for /metrics)
ACCEPTED: Counter[str] = Counter()
REJECTED: Counter[tuple[str, str]] = Counter()
MAX_BATCH = 10_000


# the ``reason`` label of a refusal, by a phrase of its reason (the first that matches)
_KINDS = (
    ("years 1970", "time_out_of_range"), ("device id longer", "device_id_too_long"),
    ("unknown device", "unknown_device"), ("retired", "retired"),
    ("not an attribute", "not_an_attribute"), ("expected", "expected"),
    ("outside", "outside"), ("no values", "no_values"), ("not yours", "not_yours"),
    ("text longer", "text_too_long"), ("time", "time"),
)  # fmt: skip
# readings are kept from 1970 to 2100: before, a device's clock was never set; after, wrong
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)
MAX_DEVICE_ID = 100


def reason_kind(reason: str) -> str:
    """The short name of a refusal's reason, for counting (the ``reason`` label on /metrics)."""
    for phrase, kind in _KINDS:
        if phrase in reason:
            return kind
    return "other"


def reading_problem(device_id: object, ts: object) -> str | None:
    """What is wrong with a reading's device id or time whatever the device (None: nothing)."""
    if not isinstance(device_id, str) or not device_id:
        return "a device id (text) is required"
    if len(device_id) > MAX_DEVICE_ID:
        return f"device id longer than {MAX_DEVICE_ID} characters"
    if isinstance(ts, datetime) and ts.tzinfo is not None and not EARLIEST <= ts < LATEST:
        return f"time {ts.isoformat()} is outside the years 1970–2100"
    return None


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
        reason = reading_problem(device_id, reading.ts) or catalog.problem(
            device_id, reading.values
        )
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
            REJECTED[(protocol, reason_kind(reason))] += 1
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


def check_items(items: Sequence[Any], protocol: str) -> tuple[list[Reading], list[int],
                                                                 list[Rejected]]:  # fmt: skip
    """Raw readings of a batch (JSON values), each checked on its own: the readings well formed,
    their places in the batch, and the others refused with the reason."""
    good: list[Reading] = []
    where: list[int] = []
    refused: list[Rejected] = []
    for index, item in enumerate(items):
        device_id = item.get("device_id") if isinstance(item, dict) else None
        shown = device_id[:MAX_DEVICE_ID] if isinstance(device_id, str) else ""
        if not isinstance(item, dict):
            reason: str | None = "a reading is an object {device_id, ts, values}"
        else:
            reason = reading_problem(device_id, None)
        if reason is None:
            try:
                good.append(ReadingIn.model_validate(item))
                where.append(index)
                continue
            except ValidationError as exc:
                first = exc.errors()[0]
                reason = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        refused.append(Rejected(index=index, device_id=shown, reason=reason))
        REJECTED[(protocol, reason_kind(reason))] += 1
    return good, where, refused


def ingest_items(
    session: Session,
    readings: Sequence[Reading],
    where: list[int],
    refused: list[Rejected],
    *,
    protocol: str,
    unit: str | None = None,
) -> tuple[IngestReport, list[Accepted]]:
    """``ingest`` of the well-formed readings of a batch (at ``where`` in it), answered for the
    whole batch: ``refused`` (already refused) and what ``ingest`` refuses, by their places."""
    report, accepted = ingest(session, readings, protocol=protocol, unit=unit)
    rejected = refused + [r.model_copy(update={"index": where[r.index]}) for r in report.rejected]
    return IngestReport(accepted=report.accepted,
                        rejected=sorted(rejected, key=lambda r: r.index)), accepted  # fmt: skip


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


# --- dead letters: device messages that could not be stored ------------------------------------------


def keep_dead_letter(
    session: Session,
    topic: str,
    payload: bytes,
    reason: str,
    kind: str,
    *,
    device_id: str | None = None,
    received_at: datetime | None = None,
) -> None:
    """Keep a message that could not be stored, with why (its payload cut to a bound); ``kind``
    is the reason's short name, as counted."""
    repository.add_dead_letter(session, topic=topic[:300], payload=payload[:DeadLetter.PAYLOAD_LIMIT],
                               payload_size=len(payload), reason=reason[:500], kind=kind,
                               device_id=device_id[:MAX_DEVICE_ID] if device_id else None,
                               received_at=received_at or datetime.now(UTC))  # fmt: skip


def dead_letters(
    session: Session, unit: str | None, page: int = 1, per_page: int = 50
) -> DeadLetterPage:
    """Dead letters, newest first, a page at a time; ``unit``: only those of that unit's
    devices (None: all, also those of no known device)."""
    if page < 1:
        raise InvalidInput("pages are numbered from 1", field="page")
    if not 1 <= per_page <= 500:
        raise InvalidInput("per_page is 1 to 500", field="per_page")
    owned = None if unit is None else [d.device_id for d in devices.devices(session, unit)]
    total, rows = repository.dead_letters(session, (page - 1) * per_page, per_page, owned)
    return DeadLetterPage(total=total, page=page, per_page=per_page,
                          items=[DeadLetterRead.model_validate(r) for r in rows])  # fmt: skip
