"""Cockpit benchmark: the plan-supervision pages with all five plans and three years of values.

    python bench/cockpit_bench.py [--backend sqlite|postgresql] [--rounds 15]

Builds the demo city (the five published plans, whole, and the demo's rollout plan), then gives
every indicator an approved value for each of the 36 months before this one and every task led
by a unit a monthly update for each of those months, as three years of supervision would leave
them. It then signs in as the bureau and times each page as the console serves it (in process,
through the whole application: session, permissions, queries, templates): the overview with
its sparklines and task timelines, the monthly report and its workbook, the scorecards, the
yearly assessment, an indicator's page with its chart, and each plan through the API. Each
figure is the median of ``--rounds`` requests after one to warm up; the reference is
``/healthz`` through the same client in the same run. Aim: every page under 300 ms.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import POSTGRES_URL, open_db
from citybase.app import create_app
from citybase.cockpit.indicators.models import Actual, Indicator
from citybase.cockpit.indicators.schemas import ActualStatus
from citybase.cockpit.tasks.models import Task, TaskUpdate
from citybase.core import clock
from citybase.core.settings import Settings
from citybase.demo.seed import DEMO_PASSWORD, build_demo


def months_before(today: date, n: int) -> list[str]:
    out = []
    year, month = today.year, today.month
    for _ in range(n):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append(f"{year}-{month:02d}")
    return sorted(out)


def fill(db: object, today: date) -> tuple[int, int]:
    """Three years of approved monthly values and task updates; returns how many of each."""
    rng = random.Random(7)
    periods = months_before(today, 36)
    now = datetime.now(UTC)
    values = updates = 0
    with db.session_scope() as session:  # type: ignore[attr-defined]
        session.query(Actual).delete()
        for ind in session.query(Indicator).all():
            targets = sorted((int(y), float(v)) for y, v in ind.targets.items())
            start = ind.baseline_value if ind.baseline_value is not None else targets[0][1] * 0.5
            end = targets[-1][1]
            low = ind.minimum if ind.minimum is not None else -math.inf
            high = ind.maximum if ind.maximum is not None else math.inf
            for n, period in enumerate(periods):
                value = start + (end - start) * (n + 1) / len(periods) * rng.uniform(0.8, 1.05)
                session.add(Actual(
                    indicator_id=ind.id, period=period, version=1,
                    value=round(min(max(value, low), high), 4), source="bench",
                    unit_code=(ind.units or [""])[0], reported_by="bench", reported_at=now,
                    status=ActualStatus.approved, decided_by="bench", decided_at=now,
                ))  # fmt: skip
                values += 1
        for task in session.query(Task).all():
            if not task.lead_units:
                continue
            existing = {(u.period, u.unit_code) for u in
                        session.query(TaskUpdate).filter(TaskUpdate.task_id == task.id)}  # fmt: skip
            for n, period in enumerate(periods):
                if (period, task.lead_units[0]) in existing:
                    continue
                session.add(TaskUpdate(
                    task_id=task.id, period=period, unit_code=task.lead_units[0],
                    text="按计划推进，本月完成阶段性工作。", progress=min(100, 3 * (n + 1)),
                    status="in_progress", problems="", milestones_done=[], reported_by="bench",
                    reported_at=now,
                ))  # fmt: skip
                updates += 1
    return values, updates


def sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                         "next": "/", "login_token": token.group(1)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text


def timed(client: TestClient, path: str, rounds: int) -> tuple[float, int]:
    """Median milliseconds of ``rounds`` GETs after one to warm up, and the answer's size."""
    first = client.get(path)
    if first.status_code != 200:
        raise RuntimeError(f"{path} answered {first.status_code}")
    spent = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = client.get(path)
        spent.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    return statistics.median(spent), len(first.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        db = open_db(args.backend, Path(home))
        url = f"sqlite:///{home}/bench.db" if args.backend == "sqlite" else POSTGRES_URL
        settings = Settings(home=Path(home), database_url=url)
        build_demo(db, settings)
        today = clock.today()
        values, updates = fill(db, today)
        with db.session_scope() as session:
            indicators = session.query(Indicator).count()
            tasks = session.query(Task).count()
            busiest = session.query(Indicator).filter(Indicator.baseline_year.is_not(None)).first()
            assert busiest is not None
            one = busiest.id
        print(f"backend {args.backend}: {indicators} indicators, {tasks} tasks; "
              f"{values} approved monthly values and {updates} task updates over 36 months")  # fmt: skip
        app = create_app(settings)
        with TestClient(app) as client:
            sign_in(client, "admin")
            reference, _ = timed(client, "/healthz", args.rounds)
            month = months_before(today, 1)[0]
            pages = [
                ("overview (一屏通览)", "/console/cockpit"),
                ("monthly report", f"/console/cockpit/report?month={month}"),
                ("monthly report, XLSX", f"/console/cockpit/report.xlsx?month={month}"),
                ("scorecards", "/console/cockpit/units"),
                ("yearly assessment", f"/console/cockpit/assessment?year={today.year - 1}"),
                ("indicator page and chart", f"/console/cockpit/indicators/{one}"),
                ("tasks", "/console/cockpit/tasks"),
                ("API: the 14th plan in full", "/api/v1/cockpit/plans/fz-digital-14th"),
            ]
            print(f"{'page':34} {'median ms':>10} {'KB':>8} {'÷ /healthz':>11}")
            print(f"{'/healthz (reference)':34} {reference:10.1f} {'':>8} {1:11.1f}")
            for label, path in pages:
                ms, size = timed(client, path, args.rounds)
                mark = "" if ms < 300 else "  (over 300 ms)"
                print(f"{label:34} {ms:10.1f} {size / 1024:8.0f} {ms / reference:11.1f}{mark}")
        db.dispose()


if __name__ == "__main__":
    main()
