"""Forecast backtest: the next hour in 5-minute steps, its error (MASE) beside seasonal-naive's.

    python bench/forecast_bench.py [--days 15] [--origins 288] [--every 1] [--nab NAB_DIR]

Three sets of series, each judged the same way (``forecast.accuracy``): from each of the last
``--origins`` 5-minute origins (one in ``--every``) the next hour is forecast from the history
before it only (at most 14 days of it), and so are the value a day back and the value a week
back (seasonal-naive). Every mean absolute error is divided by that of the value a day back
within the history before the first origin (MASE); the ratio ours / day-back below 1 means ours
served better in the same hours.

- simulated here: a tidal river with a rainstorm at the end, traffic speed with rush hours on
  weekdays only (a weekly cycle), PM2.5 on a wandering background, a rain gauge;
- the demo city's sensors, as ``citybase demo`` simulates them, over ``--days`` days;
- with ``--nab``, NAB's real traffic streams (``data/realTraffic`` of a checkout of
  numenta/NAB, read where they are): speed, occupancy and travel time from Minnesota's
  detectors, irregularly sampled, with gaps — errors are taken only where a reading was.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from citybase.demo.sensors import _values as demo_values
from citybase.perception.rules import forecast as fc

START = datetime(2026, 11, 1, tzinfo=UTC)
DEMO = [("wl-baima-01", "water_gauge", "level"), ("wl-guangming-01", "water_gauge", "level"),
        ("rg-gulou-01", "rain_gauge", "rain"), ("aq-gulou-01", "air_station", "pm25"),
        ("tr-wuyi-01", "traffic_detector", "speed"), ("mh-gudong-01", "manhole_sensor", "tilt")]  # fmt: skip


def simulated(kind: str, days: int, rng: random.Random) -> list[float]:
    n = days * 288
    out, walk = [], 0.0
    for i in range(n):
        hours = i / 12
        hour = (hours + 8) % 24
        storm = max(0.0, 1 - (n - i) / 36) if n - i < 36 else 0.0
        if kind == "tidal level":
            out.append(1.8 + 0.25 * math.sin(hours / 12.42 * 2 * math.pi) + 1.6 * storm**1.5
                       + rng.gauss(0, 0.01))  # fmt: skip
        elif kind == "traffic speed":
            weekday = int((hours + 8) // 24) % 7 < 5
            rush = 18 * (math.exp(-((hour - 8.2) ** 2) / 1.2) + math.exp(-((hour - 18) ** 2) / 1.5))
            out.append(max(4.0, 42 - (rush if weekday else rush / 3) + rng.gauss(0, 2.5)))
        elif kind == "pm2.5":
            walk = 0.995 * walk + rng.gauss(0, 0.8)
            out.append(max(3.0, 30 + walk + 10 * math.sin((hour - 8) / 24 * 2 * math.pi)
                           + rng.gauss(0, 2)))  # fmt: skip
        else:  # rain
            out.append(max(0.0, 60 * storm + rng.gauss(0, 1)) if storm else 0.0)
    return out


def series(args: argparse.Namespace) -> list[tuple[str, list[tuple[datetime, float]]]]:
    rng = random.Random(3)
    found = []
    for kind in ("tidal level", "traffic speed", "pm2.5", "rain"):
        values = simulated(kind, args.days, rng)
        found.append((f"sim {kind}", [(START + fc.STEP * i, v) for i, v in enumerate(values)]))
    now = START + timedelta(days=args.days)
    for device, kind, attr in DEMO:
        rng = random.Random(7)
        at, history = now - timedelta(days=args.days), []
        while at <= now:
            history.append((at, float(demo_values(device, kind, at, now, rng)[attr])))
            at += fc.STEP
        found.append((f"demo {device} {attr}", history))
    if args.nab:
        for path in sorted((Path(args.nab) / "data" / "realTraffic").glob("*.csv")):
            with path.open(encoding="utf-8") as f:
                rows = [(datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC),
                         float(r["value"])) for r in csv.DictReader(f)]  # fmt: skip
            found.append((f"NAB {path.stem}", rows))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=15)
    parser.add_argument("--origins", type=int, default=288)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--nab", default="", help="a checkout of numenta/NAB (read in place)")
    args = parser.parse_args()
    print(f"{'series':30} {'steps':>6} {'origins':>7} {'MASE ours':>9} {'day-back':>9} "
          f"{'week-back':>9} {'ratio':>6} {'in 80%':>7} {'ms/fc':>6} usual method")  # fmt: skip
    for name, history in series(args):
        t0 = time.perf_counter()
        try:
            found = fc.accuracy(history, origins=args.origins, every=args.every)
        except ValueError as exc:
            print(f"{name:30} not judged: {exc}")
            continue
        spent = (time.perf_counter() - t0) / found.origins * 1000
        week = "—" if found.mase_week is None else f"{found.mase_week:.3f}"
        print(f"{name:30} {found.steps:6} {found.origins:7} {found.mase:9.3f} "
              f"{found.mase_day:9.3f} {week:>9} {found.mase / found.mase_day:6.2f} "
              f"{found.inside80:7.0%} {spent:6.0f} {found.method}")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
