"""The brains' own work: hot spots (many similar cases in one district in a short time) raised as
early warnings, proactive tasks opened from them (未诉先办), sensor alarms turned into cases, and
what each brain sees."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import Event, EventEnvelope
from citybase.core.clock import CITY_TZ
from citybase.core.errors import Conflict, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import HubSettings
from citybase.core.workdays import DEFAULT, WorkCalendar
from citybase.hub.brains.models import HotSpot
from citybase.hub.brains.schemas import HotSpotRead
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseCreate, CaseRead, Channel, Source
from citybase.hub.dispatch.schemas import Urgency
from citybase.hub.events import service as events
from citybase.perception.rules.schemas import Alarm

# what kind of matter each kind of alarm is, in the demo taxonomy's codes (a city with its own
# taxonomy maps its own: ``ALARM_CATEGORIES[kind] = code``)
ALARM_CATEGORIES = {
    "water_level": "010204", "rainfall": "010204", "waterlogging": "010204",
    "manhole": "010202", "streetlight": "010203", "smoke": "0802", "fire": "0802",
    "air_quality": "0202", "noise": "0201", "traffic": "0303", "elevator": "120101",
}  # fmt: skip


class HotSpotRaised(Event):
    """Many cases of one kind in one district: an early warning for the brains."""

    topic: ClassVar[str] = "hub.hotspot.raised"

    hotspot_id: int
    category_code: str
    district_code: str
    count: int
    baseline: float


def detect(session: Session, hub: HubSettings, now: datetime | None = None) -> list[HotSpotRead]:
    """Raise a hot spot for each (小类, district) whose cases in the last window reach both the
    minimum and ``ratio`` times their usual count per window over the weeks before; once a day
    each. Returns those raised now."""
    now = now or datetime.now(UTC)
    window = timedelta(hours=hub.hotspot_window_hours)
    start = now - window
    base_start = start - timedelta(days=hub.hotspot_baseline_days)
    current = cases.counts(session, start, now)
    before = cases.counts(session, base_start, start)
    windows = (start - base_start) / window
    day = now.astimezone(CITY_TZ).date().isoformat()
    raised = []
    for (category, district), count in sorted(current.items()):
        usual = before.get((category, district), 0) / windows
        if not is_hot(count, usual, hub):
            continue
        exists = session.scalar(select(HotSpot).where(
            HotSpot.category_code == category, HotSpot.district_code == district,
            HotSpot.day == day))  # fmt: skip
        if exists is not None:
            continue
        spot = HotSpot(category_code=category, district_code=district, day=day, count=count,
                       baseline=round(usual, 3), window_hours=hub.hotspot_window_hours,
                       raised_at=now)  # fmt: skip
        session.add(spot)
        session.flush()
        bus.publish(session, HotSpotRaised(hotspot_id=spot.id, category_code=category,
                                           district_code=district, count=count,
                                           baseline=spot.baseline))  # fmt: skip
        ledger.record(session, Actor.system("brains"), "hub.hotspot.raised",
                      object_type="hotspot", object_id=spot.id,
                      details={"category": category, "district": district, "count": count,
                               "usual": spot.baseline})  # fmt: skip
        raised.append(HotSpotRead.model_validate(spot))
    return raised


def is_hot(count: int, usual: float, hub: HubSettings) -> bool:
    """Whether ``count`` cases in a window are a hot spot against ``usual`` per window: at least
    the minimum, ``ratio`` times the usual, and (when ``hotspot_p_value`` is set) so many that a
    Poisson count at the usual rate would reach them less often than that. The ratio alone
    fires on pairs that are merely busy (a kind seen twice a day reaches six on an ordinary
    day now and then); the tail probability weighs a count by how much it varies."""
    rate = max(usual, 0.5)
    if count < hub.hotspot_min_cases or count < hub.hotspot_ratio * rate:
        return False
    return not hub.hotspot_p_value or poisson_tail(count, rate) < hub.hotspot_p_value


def poisson_tail(count: int, rate: float) -> float:
    """P(X ≥ count) for X ~ Poisson(rate)."""
    if count <= 0:
        return 1.0
    term = below = math.exp(-rate)
    for k in range(1, count):
        term *= rate / k
        below += term
    return max(0.0, 1.0 - below)


def hot_spots(session: Session, since: datetime | None = None) -> list[HotSpotRead]:
    query = select(HotSpot).order_by(HotSpot.raised_at.desc()).limit(200)
    if since is not None:
        query = query.where(HotSpot.raised_at >= since)
    return [HotSpotRead.model_validate(h) for h in session.scalars(query)]


def open_task(
    session: Session,
    mover: cases.Mover,
    hotspot_id: int,
    *,
    home: Path | None = None,
    hub: HubSettings | None = None,
    cal: WorkCalendar = DEFAULT,
    now: datetime | None = None,
) -> CaseRead:
    """未诉先办: a proactive case for a hot spot, in its district and of its kind, dispatched by the
    catalog, with the cases behind it as related."""
    spot = session.get(HotSpot, hotspot_id)
    if spot is None:
        raise NotFound(f"no hot spot {hotspot_id}", field="id")
    if spot.case_number:
        raise Conflict(f"a task is already open for it: {spot.case_number}", field="id")
    now = now or datetime.now(UTC)
    name = events.get_category(session, spot.category_code).name
    district = orgs.get_region(session, spot.district_code).name
    since = now - timedelta(hours=spot.window_hours)
    related = cases.recent_numbers(session, spot.category_code, spot.district_code, since)
    text = (f"未诉先办：{district}近{spot.window_hours}小时收到{spot.count}件“{name}”诉求"
            f"（此前平均每{spot.window_hours}小时{spot.baseline:.1f}件），请主动排查、集中处置。")  # fmt: skip
    taken = cases.intake(session, mover, CaseCreate(
        source=Source.proactive, channel=Channel.api, title=f"未诉先办：{district}{name}",
        text=text, region_code=spot.district_code, category_code=spot.category_code,
        urgency=Urgency.pressing, related=related,
    ), home=home, hub=hub, cal=cal, now=now)  # fmt: skip
    spot.case_number = taken.case.number
    return taken.case


def alarm_case(session: Session, alarm: Alarm, city_code: str, now: datetime | None = None) -> str:
    """A sensor alarm as a case: joined to the device's open case when there is one, else taken
    in (source sensor) and dispatched by the catalog. Returns the case's number."""
    message = f"[{alarm.kind}] {alarm.message}"
    joined = cases.repeat_alarm(session, alarm.device_id, message, now)
    if joined is not None:
        return joined
    data = CaseCreate(
        source=Source.sensor, channel=Channel.sensor, title=message[:200], text=message,
        address=alarm.address, region_code=alarm.region_code or city_code,
        lon=alarm.lon, lat=alarm.lat, category_code=ALARM_CATEGORIES.get(alarm.kind, ""),
        urgency=Urgency.urgent if alarm.level == "critical" else Urgency.pressing,
        device_id=alarm.device_id,
    )  # fmt: skip
    return cases.intake(session, cases.Mover.system("perception"), data, now=now).case.number


@bus.consumer("hub.brains.alarms", Alarm.topic)
def _on_alarm(session: Session, envelope: EventEnvelope) -> None:
    alarm_case(session, Alarm.model_validate(envelope.payload), cases.city_code(session))
