"""Hot spots (未诉先办) measured on a generated stream with injected outbreaks of known start and size.

    python bench/hotspot_bench.py [--backend sqlite|postgresql] [--seeds 3] [--events 40]

The stream: 14 districts × 36 kinds of matter (小类 at four characters), each pair with its own
usual rate (log-normal, a median of one case in five days, a few pairs several a day), more
cases by day than by night and fewer at weekends; 28 days of history, then 28 days in which
``--events`` outbreaks are injected, each on one pair, starting at a known hour, lasting 6 to 36
hours and adding a known number of cases (3 to 24) spread over its hours. The cases are written
straight into the cases table; then the platform's own detector
(:func:`citybase.hub.brains.service.detect`, with the default settings) runs every hour of the
28 days as the worker runs it, its counts read from the table.

The baseline, in the same run over the same counts: a fixed threshold (a kind of matter with at
least ``T`` cases in one district in the last window raises, once a day), for ``T`` = 5 and 10.

Scored per outbreak and per alarm: an alarm is true when it falls on an outbreak's pair between
its start and one window after its end (the window still holds its cases); recall is the share
of outbreaks with a true alarm (by size, too), precision the share of alarms that are true, the
delay the hours from an outbreak's start to its first true alarm, and false alarms are counted
per day across the city (what the centre's operators would have to look at for nothing).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.core.clock import CITY_TZ
from citybase.core.db.engine import Database
from citybase.core.settings import HubSettings
from citybase.hub.brains import service as brains
from citybase.hub.cases import service as cases
from citybase.hub.cases.models import Case

DISTRICTS = ["350102", "350103", "350104", "350105", "350111", "350112", "350121", "350122",
             "350123", "350124", "350125", "350128", "350181", "350100GX"]  # fmt: skip
CATEGORIES = [f"{a:02d}{b:02d}" for a in range(1, 13) for b in range(1, 4)]
HISTORY_DAYS = 28
EVAL_DAYS = 28
# cases by hour of the day (city time): few at night, most in the working day
HOURLY = [0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.0, 1.6, 1.8, 1.8, 1.6, 1.2, 1.4, 1.6, 1.6, 1.5,
          1.3, 1.2, 1.1, 0.9, 0.7, 0.5, 0.3]  # fmt: skip
SIZES = [3, 5, 8, 12, 24]
THRESHOLDS = [5, 10]


@dataclass
class Outbreak:
    pair: tuple[str, str]
    start: datetime
    end: datetime
    size: int
    alarms: list[datetime] = field(default_factory=list)


@dataclass
class Score:
    alarms: int = 0
    true_alarms: int = 0
    detected: int = 0
    delays: list[float] = field(default_factory=list)
    by_size: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def line(self, name: str, outbreaks: int, days: int) -> str:
        precision = self.true_alarms / self.alarms if self.alarms else float("nan")
        false_per_day = (self.alarms - self.true_alarms) / days
        delay = statistics.median(self.delays) if self.delays else float("nan")
        sizes = ", ".join(f"{size}: {hit}/{n}" for size, (hit, n) in sorted(self.by_size.items()))
        return (f"{name:<22} recall {self.detected / outbreaks:5.2f}  precision {precision:5.2f}  "
                f"false alarms/day {false_per_day:5.2f}  median delay {delay:5.1f} h  "
                f"(found by size: {sizes})")  # fmt: skip


def stream(rng: random.Random, start: datetime, events: int) -> tuple[list[Any], list[Outbreak]]:
    """The cases' (accepted_at, category, district) and the outbreaks injected into them."""
    hours = (HISTORY_DAYS + EVAL_DAYS) * 24
    rows: list[tuple[datetime, str, str]] = []
    mean_hourly = sum(HOURLY) / 24
    for category in CATEGORIES:
        for district in DISTRICTS:
            per_day = min(6.0, rng.lognormvariate(math.log(0.2), 1.2))
            for h in range(hours):
                at = start + timedelta(hours=h)
                local = at.astimezone(CITY_TZ)
                rate = per_day / 24 * HOURLY[local.hour] / mean_hourly
                rate *= 0.7 if local.weekday() >= 5 else 1.0
                for _ in range(_poisson(rng, rate)):
                    rows.append((at + timedelta(seconds=rng.randrange(3600)), category, district))
    outbreaks: list[Outbreak] = []
    eval_start = start + timedelta(days=HISTORY_DAYS)
    while len(outbreaks) < events:
        pair = (rng.choice(CATEGORIES), rng.choice(DISTRICTS))
        begin = eval_start + timedelta(hours=rng.randrange((EVAL_DAYS - 3) * 24))
        duration = rng.randint(6, 36)
        # one outbreak per pair at a time, and apart by more than the baseline window
        if any(o.pair == pair and abs(o.start - begin) < timedelta(days=4) for o in outbreaks):
            continue
        size = SIZES[len(outbreaks) % len(SIZES)]
        outbreaks.append(Outbreak(pair, begin, begin + timedelta(hours=duration), size))
        for _ in range(size):
            rows.append((begin + timedelta(seconds=rng.randrange(duration * 3600)), *pair))
    return rows, outbreaks


def _poisson(rng: random.Random, rate: float) -> int:
    threshold, k, p = math.exp(-rate), 0, rng.random()
    while p > threshold:
        k += 1
        p *= rng.random()
    return k


def fill(db: Database, rows: list[tuple[datetime, str, str]]) -> None:
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM hub_hot_spots"))
        c.execute(text("DELETE FROM hub_cases"))
        batch = [_case(i, at, category, district) for i, (at, category, district) in
                 enumerate(rows)]  # fmt: skip
        for n in range(0, len(batch), 20_000):
            c.execute(insert(Case), batch[n : n + 20_000])
    if db.dialect == "postgresql":
        with db.engine.begin() as c:
            c.execute(text("ANALYZE hub_cases"))


def _case(i: int, at: datetime, category: str, district: str) -> dict[str, Any]:
    return {
        "number": f"H{i:09d}", "source": "hotline", "channel": "phone", "text": "x",
        "state": "closed", "district_code": district, "region_code": district,
        "category_code": category, "lead_unit": "u00", "brain_code": district,
        "accepted_at": at, "dispatched_at": at, "updated_at": at, "support_units": [],
        "attachments": [], "related": [], "suggestion": {}, "lon": None, "lat": None,
    }  # fmt: skip


def run(
    db: Database, eval_start: datetime, hub: HubSettings, name: str, fixed: bool
) -> dict[str, list[Any]]:
    """Every hour of the evaluation: the detector as the worker runs it (the hot spots raised
    before are cleared first), and, with ``fixed``, the fixed thresholds over the same window's
    counts. Alarms as (pair, time)."""
    alarms: dict[str, list[Any]] = {name: []}
    if fixed:
        alarms |= {f"fixed ≥ {t}": [] for t in THRESHOLDS}
    raised_today: dict[str, set[tuple[str, tuple[str, str]]]] = {k: set() for k in alarms}
    window = timedelta(hours=hub.hotspot_window_hours)
    with db.engine.begin() as c:
        c.execute(text("DELETE FROM hub_hot_spots"))
    for h in range(1, EVAL_DAYS * 24 + 1):
        now = eval_start + timedelta(hours=h)
        day = now.astimezone(CITY_TZ).date().isoformat()
        with db.session_scope() as s:
            for spot in brains.detect(s, hub, now=now):
                alarms[name].append(((spot.category_code, spot.district_code), now))
            current = cases.counts(s, now - window, now) if fixed else {}
        for t in THRESHOLDS if fixed else []:
            rule = f"fixed ≥ {t}"
            for pair, count in current.items():
                if count >= t and (day, pair) not in raised_today[rule]:
                    raised_today[rule].add((day, pair))
                    alarms[rule].append((pair, now))
    return alarms


def score(alarms: list[Any], outbreaks: list[Outbreak], window: timedelta) -> Score:
    found = Score()
    for o in outbreaks:
        found.by_size[o.size][1] += 1
    first: dict[int, datetime] = {}
    for pair, at in alarms:
        found.alarms += 1
        hits = [i for i, o in enumerate(outbreaks)
                if o.pair == pair and o.start <= at <= o.end + window]  # fmt: skip
        if hits:
            found.true_alarms += 1
            for i in hits:
                first[i] = min(first.get(i, at), at)
    for i, at in first.items():
        found.detected += 1
        found.by_size[outbreaks[i].size][0] += 1
        found.delays.append((at - outbreaks[i].start).total_seconds() / 3600)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()
    hub = HubSettings()
    window = timedelta(hours=hub.hotspot_window_hours)
    print(f"[{args.backend}] detector settings: window {hub.hotspot_window_hours} h, baseline "
          f"{hub.hotspot_baseline_days} days, at least {hub.hotspot_min_cases} cases and "
          f"{hub.hotspot_ratio:g} × the usual, Poisson tail below {hub.hotspot_p_value:g}")  # fmt: skip
    totals: dict[str, list[Score]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(args.backend, Path(tmp))
        for seed in range(args.seeds):
            rng = random.Random(seed)
            start = datetime(2026, 6, 1, tzinfo=UTC)
            rows, outbreaks = stream(rng, start, args.events)
            fill(db, rows)
            t0 = time.perf_counter()
            alarms = run(db, start + timedelta(days=HISTORY_DAYS), hub, "detector", fixed=False)
            took = time.perf_counter() - t0
            # the same detector without its tail test: the minimum and the ratio alone
            alarms |= run(db, start + timedelta(days=HISTORY_DAYS),
                          hub.model_copy(update={"hotspot_p_value": 0.0}),
                          "detector, ratio only", fixed=True)  # fmt: skip
            print(f"\nseed {seed}: {len(rows):,} cases, {len(outbreaks)} outbreaks "
                  f"({sum(o.size for o in outbreaks)} cases in them); {EVAL_DAYS * 24} hourly "
                  f"runs of the detector in {took:.1f} s")  # fmt: skip
            for name, found in alarms.items():
                result = score(found, outbreaks, window)
                totals[name].append(result)
                print("  " + result.line(name, len(outbreaks), EVAL_DAYS))
        db.dispose()
    print(f"\nover {args.seeds} seeds ({args.seeds * args.events} outbreaks):")
    for name, results in totals.items():
        merged = Score()
        for r in results:
            merged.alarms += r.alarms
            merged.true_alarms += r.true_alarms
            merged.detected += r.detected
            merged.delays += r.delays
            for size, (hit, n) in r.by_size.items():
                merged.by_size[size][0] += hit
                merged.by_size[size][1] += n
        print("  " + merged.line(name, args.seeds * args.events, args.seeds * EVAL_DAYS))


if __name__ == "__main__":
    sys.exit(main())
