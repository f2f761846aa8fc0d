"""好差评 benchmark: the figures over a year of ratings, and a citizen's rating.

    python bench/evaluation_bench.py [--ratings 100000] [--rounds 7]

Fills a fresh SQLite database with ``--ratings`` ratings spread over a year, 40 units, the
three kinds of subject and eight channels, about 11 % of them 差评 in every state of
rectification. Then times ``service.figures`` per unit, kind and channel over the year (the
median of ``--rounds``) against a reference measured in the same run: the same figures counted
in Python from the rows fetched by one plain query. Then times ``service.rate`` — checks, the
row, the ledger entry and the outbox event in one transaction — for 300 matters opened with
``open_for_rating``, against a reference of one bare insert of a row per transaction.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.core.settings import Settings
from citybase.core.workdays import calendar_for
from citybase.services.evaluation import service
from citybase.services.evaluation.models import RatedSubject, Rating
from citybase.services.evaluation.schemas import Channel, Grade, RatingCreate, SubjectKind

GRADES = ([Grade.very_satisfied] * 56 + [Grade.satisfied] * 24 + [Grade.basic] * 9
          + [Grade.unsatisfied] * 8 + [Grade.very_unsatisfied] * 3)  # fmt: skip
STATES = ["pending", "answered", "accepted", "rejected"]


def fill(db: object, n: int, now: datetime) -> None:
    rng = random.Random(54)
    units = [f"unit{i:02d}" for i in range(40)]
    kinds, channels = list(SubjectKind), list(Channel)
    with db.session_scope() as session:  # type: ignore[attr-defined]
        for start in range(0, n, 10_000):
            subjects, ratings = [], []
            for i in range(start, min(n, start + 10_000)):
                kind, unit, channel = rng.choice(kinds).value, rng.choice(units), rng.choice(channels).value  # fmt: skip
                at = now - timedelta(days=rng.uniform(0, 365))
                grade = rng.choice(GRADES)
                bad = grade in (Grade.unsatisfied, Grade.very_unsatisfied)
                state = rng.choice(STATES) if bad else ""
                due = at + timedelta(days=7) if bad else None
                answered = at + timedelta(days=rng.uniform(1, 9)) if state and state != "pending" else None  # fmt: skip
                subjects.append({"id": i + 1, "kind": kind, "subject_id": f"S{i}", "unit_code": unit,
                                 "channel": channel, "title": "", "applicant_key": "",
                                 "handled_at": at, "created_at": at, "updated_at": at})  # fmt: skip
                ratings.append({"subject_pk": i + 1, "kind": kind, "subject_id": f"S{i}",
                                "unit_code": unit, "channel": channel, "title": "",
                                "grade": grade.value, "reasons": ["slow"] if bad else [],
                                "comment": "", "rated_at": at, "rectify_state": state,
                                "rectify_due": due, "answer": "x" if answered else "",
                                "answered_at": answered, "answered_by": "", "revisit_note": "",
                                "revisited_by": "", "created_at": at, "updated_at": at})  # fmt: skip
            session.execute(insert(RatedSubject), subjects)
            session.execute(insert(Rating), ratings)


def reference(db: object, by: str, since: datetime, until: datetime, now: datetime) -> int:
    """The same counts — per group and grade: ratings, answered, on time, overdue, accepted —
    in Python over the rows of one plain query."""
    column = {"unit": Rating.unit_code, "kind": Rating.kind, "channel": Rating.channel}[by]
    counts: Counter[tuple[str, str, str]] = Counter()
    with db.session_scope(readonly=True) as session:  # type: ignore[attr-defined]
        rows = session.execute(select(column, Rating.grade, Rating.rectify_state,
                                      Rating.rectify_due, Rating.answered_at)
                               .where(Rating.rated_at >= since, Rating.rated_at < until))  # fmt: skip
        for key, grade, state, due, answered in rows:
            counts[(key, grade, "count")] += 1
            if answered is not None:
                counts[(key, grade, "answered")] += 1
                if due is not None and answered <= due:
                    counts[(key, grade, "on_time")] += 1
            if state == "pending" and due is not None and due < now:
                counts[(key, grade, "overdue")] += 1
            if state == "accepted":
                counts[(key, grade, "accepted")] += 1
    return len(counts)


def timed(fn: object, rounds: int) -> float:
    fn()  # type: ignore[operator]
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ratings", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    where = Path(tempfile.mkdtemp())
    settings = Settings(home=where)
    db = open_db("sqlite", where)
    now = datetime.now(UTC)
    t = time.perf_counter()
    fill(db, args.ratings, now)
    print(f"filled {args.ratings:,} ratings in {time.perf_counter() - t:.1f} s")
    since, until = now - timedelta(days=365), now + timedelta(seconds=1)
    for by in ("unit", "kind", "channel"):

        def ours(by: str = by) -> None:
            with db.session_scope(readonly=True) as session:
                service.figures(session, None, by, since, until, now)

        mine = timed(ours, args.rounds)
        ref = timed(lambda by=by: reference(db, by, since, until, now), args.rounds)
        print(f"figures by {by:8s} {mine * 1000:8.1f} ms   reference {ref * 1000:8.1f} ms   "
              f"ratio {mine / ref:.2f}")  # fmt: skip
    cal = calendar_for(settings.home)
    with db.session_scope() as session:
        for i in range(300):
            service.open_for_rating(session, subject_kind="matter", subject_id=f"M{i}",
                                    unit_code="unit00", channel="window",
                                    applicant_key=service.applicant_key_for_phone(settings, "13800000000"))  # fmt: skip
    rated = []
    for i in range(300):
        data = RatingCreate(kind="matter", subject_id=f"M{i}", phone="13800000000",
                            grade="unsatisfied" if i % 10 == 0 else "satisfied",
                            reasons=["slow"] if i % 10 == 0 else [])  # fmt: skip
        t = time.perf_counter()
        with db.session_scope() as session:
            service.rate(session, settings, data, cal)
        rated.append(time.perf_counter() - t)
    bare = []
    for i in range(300):
        t = time.perf_counter()
        with db.session_scope() as session:
            session.execute(insert(RatedSubject), [{
                "kind": "bench", "subject_id": f"R{i}", "unit_code": "u", "channel": "window",
                "title": "", "applicant_key": "", "created_at": now, "updated_at": now}])  # fmt: skip
        bare.append(time.perf_counter() - t)
    mine, ref = statistics.median(rated), statistics.median(bare)
    print(f"rate one            {mine * 1000:8.2f} ms   reference {ref * 1000:8.2f} ms   "
          f"ratio {mine / ref:.2f}  (median of 300)")  # fmt: skip


if __name__ == "__main__":
    main()
