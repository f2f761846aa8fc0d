"""City-brain benchmarks: intake to dispatch, and the centre's figures over a million cases.

    python bench/hub_bench.py [--backend sqlite|postgresql] [--intakes 2000] [--cases 1000000]

1. **Intake to dispatch.** One case at a time, each in its own transaction, as
   ``POST /api/v1/hub/cases`` does it: resolve the address on the region register, look for
   near-duplicates, take it in, find the catalog's line and dispatch it (deadlines on the working
   clock), each step kept in the history, on the ledger and the bus, then commit. p50 and p99
   latency. The reference, in the same run, inserts the same case row alone and commits.
2. **Figures over 1,000,000 cases.** Cases written straight into the table (spread over a year,
   14 districts, 40 units, 36 categories, the usual mix of states and marks) and counted once
   into the kept counts (as the workflow keeps them case by case); then what the dashboard and
   the board compute: the figures for all, by unit, by district and by 大类, the open cases by
   district, the open cases with coordinates (a third of the cases carry a point: the map's
   dots), and the daily trend of the last 30 days. Each is timed (best of 3); the references
   are ``SELECT count(*)`` over the same table and the figures aggregated over the cases
   themselves. Aim: each under 1 s.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.demo.cases import CATALOG_FILE
from citybase.demo.seed import DEMO_FILE, TAXONOMY_FILE
from citybase.hub.cases import service as cases
from citybase.hub.cases.models import Case
from citybase.hub.cases.schemas import CaseCreate
from citybase.hub.dispatch import service as dispatch
from citybase.hub.events import service as events

SYSTEM = Actor.system("bench")
STREETS = ["鼓楼区鼓东街道虎节社区", "鼓楼区鼓东街道钱塘社区", "台江区苍霞街道苍霞社区", "仓山区",
           "晋安区", "马尾区", "长乐区", "福清市"]  # fmt: skip
WORDS = ["井盖缺失", "路灯不亮", "路面破损", "垃圾没人清运", "占道经营", "施工噪音", "积水严重",
         "违章搭建", "树木倒伏", "广场舞扰民"]  # fmt: skip
CODES = ["010202", "010203", "010201", "010103", "010101", "020101", "010204", "010102", "0103",
         "020102"]  # fmt: skip


def setup(db: Database) -> None:
    with db.session_scope() as s:
        orgs.import_orgs(s, SYSTEM, DEMO_FILE.name, DEMO_FILE.read_bytes())
        events.import_taxonomy(s, SYSTEM, TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())
        report = dispatch.import_catalog(s, SYSTEM, CATALOG_FILE.read_text(encoding="utf-8"))
        assert report.ok, report.problems
        identity.create_user(s, None, UserCreate(
            username="operator", display_name="op", password="bench-password-1",  # noqa: S106 -- a throwaway database
            unit_code="fz.hotline", roles=[Role.hotline_operator]), actor=SYSTEM)  # fmt: skip


def bench_intake(db: Database, n: int) -> tuple[list[float], list[float], int]:
    rng = random.Random(1)
    with db.session_scope() as s:
        mover = cases.Mover.of(s, identity.principal_for(s, "operator"))
    ours: list[float] = []
    ref: list[float] = []
    dispatched = 0
    for i in range(n):
        k = rng.randrange(len(WORDS))
        data = CaseCreate(text=f"{rng.choice(STREETS)}{WORDS[k]}，第{i}号反映，请尽快处理",
                          address=f"{rng.choice(STREETS)}{rng.randint(1, 300)}号",
                          category_code=CODES[k], reporter_phone="13805911234")  # fmt: skip
        t0 = time.perf_counter()
        with db.session_scope() as s:
            dispatched += cases.intake(s, mover, data).dispatched
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with db.session_scope() as s:
            s.execute(insert(Case).values(**_row(rng, i, datetime.now(UTC), prefix="REF")))
        ref.append(time.perf_counter() - t0)
    return ours, ref, dispatched


def _row(rng: random.Random, i: int, at: datetime, prefix: str = "B") -> dict[str, Any]:
    district = rng.choice(DISTRICTS)
    state = rng.choices(STATES, WEIGHTS)[0]
    done = state in ("closed", "followed_up", "replied")
    sat = rng.choices(["satisfied", "basic", "unsatisfied"], [80, 12, 8])[0] if state in (
        "closed", "followed_up") else ""  # fmt: skip
    return {
        "number": f"{prefix}{i:09d}",
        "source": "hotline",
        "channel": "phone",
        "text": "x",
        "state": state,
        "district_code": district,
        "region_code": district,
        "category_code": rng.choice(CATEGORIES),
        "lead_unit": rng.choice(UNITS),
        "brain_code": district,
        "accepted_at": at,
        "dispatched_at": at,
        "signed_on_time": rng.random() < 0.95 if state != "dispatched" else None,
        "replied_on_time": rng.random() < 0.9 if done else None,
        "satisfaction": sat,
        "return_count": int(rng.random() < 0.02),
        "reassign_count": int(rng.random() < 0.03),
        "reopen_count": int(rng.random() < 0.05) if done else 0,
        "warning": rng.choices(["", "yellow", "red"], [96, 2, 2])[0]
        if state in ("dispatched", "signed", "handling")
        else "",
        "support_units": [],
        "attachments": [],
        "related": [],
        "suggestion": {},
        "updated_at": at,
        # a third placed by a point (apps, inspectors, sensors): the map's dots
        **(
            {"lon": 118.6 + rng.random() * 1.3, "lat": 25.4 + rng.random() * 1.2}
            if rng.random() < 0.3
            else {"lon": None, "lat": None}
        ),
    }


DISTRICTS = ["350102", "350103", "350104", "350105", "350111", "350112", "350121", "350122",
             "350123", "350124", "350125", "350128", "350181", "350100GX"]  # fmt: skip
UNITS = [f"u{n:02d}" for n in range(40)]
CATEGORIES = [f"{a:02d}{b:02d}" for a in range(1, 13) for b in range(1, 4)]
STATES = ["closed", "followed_up", "replied", "handling", "signed", "dispatched", "merged"]
WEIGHTS = [85, 2, 2, 4, 3, 3, 1]


def fill(db: Database, n: int) -> float:
    rng = random.Random(2)
    start = datetime.now(UTC) - timedelta(days=365)
    t0 = time.perf_counter()
    batch: list[dict[str, Any]] = []
    with db.engine.begin() as c:
        for i in range(n):
            batch.append(_row(rng, i, start + timedelta(seconds=i * 365 * 86400 / n)))
            if len(batch) == 20_000:
                c.execute(insert(Case), batch)
                batch = []
        if batch:
            c.execute(insert(Case), batch)
    if db.dialect == "postgresql":
        with db.engine.begin() as c:
            c.execute(text("ANALYZE hub_cases"))
    return time.perf_counter() - t0


def best(fn: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_figures(db: Database) -> dict[str, float]:
    since = datetime.now(UTC) - timedelta(days=30)
    out: dict[str, float] = {}
    with db.session_scope(readonly=True) as s:
        out["reference: count(*)"] = best(lambda: s.scalar(select(func.count()).select_from(Case)))
        out["figures over the cases themselves, all (what the kept counts spare)"] = best(
            lambda: cases.figures_from_cases(s), 1
        )
        out["figures, all"] = best(lambda: cases.figures(s))
        for by in ("unit", "district", "category"):
            out[f"figures by {by}"] = best(lambda by=by: cases.figures(s, by))
        out["figures by unit, last 30 days"] = best(lambda: cases.figures(s, "unit", since))
        out["open cases by district"] = best(lambda: cases.open_by_district(s))
        out["open cases with coordinates (the map's dots, the newest 1,000)"] = best(
            lambda: cases.open_points(s)
        )
        out["daily trend, last 30 days"] = best(lambda: cases.per_day(s, since))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--intakes", type=int, default=2000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(args.backend, Path(tmp))
        setup(db)
        ours, ref, dispatched = bench_intake(db, args.intakes)
        q = statistics.quantiles
        p50, p99 = q(ours, n=100)[49] * 1000, q(ours, n=100)[98] * 1000
        r50, r99 = q(ref, n=100)[49] * 1000, q(ref, n=100)[98] * 1000
        print(f"[{args.backend}] intake to dispatch, {args.intakes} cases ({dispatched} dispatched "
              f"at once): p50 {p50:.1f} ms, p99 {p99:.1f} ms; reference insert+commit p50 "
              f"{r50:.2f} ms, p99 {r99:.2f} ms; ratio of medians {r50 / p50:.3f}")  # fmt: skip
        with db.engine.begin() as c:
            c.execute(text("DELETE FROM hub_case_steps"))
            c.execute(text("DELETE FROM hub_cases"))
            c.execute(text("DELETE FROM hub_case_stats"))
        seconds = fill(db, args.cases)
        t0 = time.perf_counter()
        with db.session_scope() as s:
            kept = cases.rebuild_stats(s)
        rebuilt = time.perf_counter() - t0
        print(f"[{args.backend}] wrote {args.cases:,} cases in {seconds:.1f} s; counted them into "
              f"{kept:,} rows of kept counts in {rebuilt:.1f} s")  # fmt: skip
        for name, value in bench_figures(db).items():
            print(f"[{args.backend}] {name}: {value * 1000:.0f} ms")
        db.dispose()


if __name__ == "__main__":
    sys.exit(main())
