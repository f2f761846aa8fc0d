"""Privacy-sandbox benchmark: a differentially private COUNT/SUM/AVG grouped by district over
1,000,000 rows, against the same aggregation without privacy, in the same run.

    python bench/sandbox_bench.py [--rows 1000000] [--rounds 5] [--epsilon 1.0] [--jobs-only]

The rows are generated (a person id with 1 to 4 rows each — at the default contribution bound
of 4 the truncation drops nothing and the error measured below is the noise alone — one of
Fuzhou's 13 districts, an amount in yuan) and held in a Polars frame, as the sandbox holds them once the traced read has
served them. Timed:

- **DP**: ``mechanisms.encode`` (the frame made small: ids hashed, districts as positions among
  the keys — the service builds its frame so) then ``mechanisms.answer`` for
  ``SELECT 区, COUNT(*), SUM(金额), AVG(金额) … GROUP BY 区``
  at ε = ``--epsilon`` with a contribution bound of ``--bound`` rows a person (4: nobody has
  more, the truncation checks every person and drops nothing; 2: it drops rows): the exact
  bounded aggregates by Polars, then OpenDP's Laplace measurement on each vector of 13 answers,
  calibrated by OpenDP's privacy map, and its accuracy.
- **DP by one OpenDP plan** (unless ``--no-plan``): the same query through
  ``mechanisms._answer_by_plan``, the OpenDP Polars plan over the rows that answered every
  query before and still answers quantiles: the speed-up of the path above.
- **Plain (Polars)**: the same aggregation with no privacy on the same frame (no truncation).
- **Plain (DuckDB SQL)**: the same SQL with no privacy, run by DuckDB on the same frame.

Each is the median of ``--rounds`` after one round to warm up. The read of the rows from the
datastore is not timed here (it is the traced read's, the same for every consumer).

Then the error of the DP answers against the true answers is reported beside OpenDP's own
accuracy at alpha 0.05 (an average has two: its noisy sum over its noisy count).

**Code jobs' start cost** (``runner.run``, the aim: < 1 s): a Python job of one line and a SQL job
``SELECT 1`` over a 1,000-row input, each run as the sandbox runs it (a new process under its
namespaces, limits, Landlock and audit hook) — the time from launch to the job's first line and
to its end — against a bare ``python -I -c pass`` in a subprocess, the least a new process costs.
Median of ``--rounds`` × 4 after one to warm up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from citybase.data.sandbox import mechanisms
from citybase.data.sandbox.dialect import parse_sql
from citybase.data.sandbox.schemas import DeclarationBase

DISTRICTS = ["鼓楼区", "台江区", "仓山区", "马尾区", "晋安区", "长乐区", "闽侯县", "连江县",
             "罗源县", "闽清县", "永泰县", "平潭县", "福清市"]  # fmt: skip
SQL = 'SELECT 区, COUNT(*), SUM(金额), AVG(金额) FROM "bench" GROUP BY 区'
BOUND = 4  # the most rows a generated person has


def generate(rows: int, seed: int = 7):  # type: ignore[no-untyped-def]
    import polars as pl

    rng = random.Random(seed)
    ids: list[str] = []
    districts: list[str] = []
    amounts: list[float] = []
    person = 0
    while len(ids) < rows:
        home = rng.choice(DISTRICTS)
        for _ in range(min(rng.randint(1, BOUND), rows - len(ids))):
            ids.append(f"P{person:08d}")
            districts.append(home)
            amounts.append(round(rng.uniform(0, 2000), 2))
        person += 1
    return pl.DataFrame({mechanisms.ID: ids, "区": districts, "金额": amounts}), person


def median_time(fn, rounds: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--bound", type=int, default=BOUND,
                        help="contribution bound; below 4 the truncation drops rows")  # fmt: skip
    parser.add_argument("--no-plan", action="store_true", help="skip the OpenDP-plan reference")
    parser.add_argument("--jobs-only", action="store_true", help="only the code jobs' start")
    args = parser.parse_args()
    if args.jobs_only:
        job_start(args.rounds * 4)
        return

    import duckdb
    import polars as pl

    declared = DeclarationBase(
        identifier="pid", max_rows_per_person=args.bound, categorical={"区": DISTRICTS},
        numeric={"金额": {"lower": 0, "upper": 2000}},
    )  # fmt: skip
    spec = parse_sql(SQL)
    start = time.perf_counter()
    frame, people = generate(args.rows)
    print(
        f"{args.rows:,} rows of {people:,} people generated in {time.perf_counter() - start:.1f} s"
    )

    def private():  # type: ignore[no-untyped-def]
        encoded = mechanisms.encode(frame, declared)  # ids hashed, districts as key positions
        return mechanisms.answer(spec, declared, encoded, args.epsilon)

    def private_plan():  # type: ignore[no-untyped-def]
        encoded = mechanisms.encode(frame, declared)
        return mechanisms._answer_by_plan(spec, declared, encoded, args.epsilon)

    def plain():  # type: ignore[no-untyped-def]
        return frame.group_by("区").agg(
            pl.len().alias("n"), pl.col("金额").sum().alias("s"), pl.col("金额").mean().alias("a")
        )

    connection = duckdb.connect()
    connection.register("bench", frame)

    def plain_sql():  # type: ignore[no-untyped-def]
        return connection.execute(
            "SELECT 区, COUNT(*), SUM(金额), AVG(金额) FROM bench GROUP BY 区"
        ).fetchall()

    dp_s = median_time(private, args.rounds)
    plain_s = median_time(plain, args.rounds)
    sql_s = median_time(plain_sql, args.rounds)
    print(f"DP answer (OpenDP, ε={args.epsilon}, bound {args.bound}): {dp_s * 1000:8.1f} ms")
    if not args.no_plan:
        plan_s = median_time(private_plan, args.rounds)
        print(f"DP answer by one OpenDP Polars plan:     {plan_s * 1000:8.1f} ms "
              f"({plan_s / dp_s:.1f}× the DP answer above)")  # fmt: skip
    print(f"plain aggregation (Polars):              {plain_s * 1000:8.1f} ms")
    print(f"plain SQL (DuckDB):                      {sql_s * 1000:8.1f} ms")
    print(f"ratio DP / plain Polars: {dp_s / plain_s:.1f}×; DP / plain SQL: {dp_s / sql_s:.1f}×")

    # error against the true answers under the same contribution bound (the noise alone)
    bounded = frame.filter(pl.int_range(pl.len()).over(mechanisms.ID) < args.bound)
    truth = {r["区"]: r for r in bounded.group_by("区").agg(
        pl.len().alias("n"), pl.col("金额").sum().alias("s"), pl.col("金额").mean().alias("a"),
    ).to_dicts()}  # fmt: skip
    errors: dict[str, list[float]] = {"COUNT(*)": [], "SUM(金额)": [], "AVG(金额)": []}
    accuracy: dict[str, str] = {}
    for _ in range(args.rounds):
        answer = private()
        for a in answer.accuracy:  # an average has two: its noisy sum and its noisy count
            if a.accuracy is not None and a.column not in accuracy:
                parts = [f"{b.statistic} ±{b.accuracy:,.1f}" for b in answer.accuracy
                         if b.column == a.column and b.accuracy is not None]  # fmt: skip
                accuracy[a.column] = " over ".join(parts)
        for row in answer.rows:
            true = truth[row["区"]]
            errors["COUNT(*)"].append(abs(row["COUNT(*)"] - true["n"]))
            errors["SUM(金额)"].append(abs(row["SUM(金额)"] - true["s"]))
            errors["AVG(金额)"].append(abs(row["AVG(金额)"] - true["a"]))
    print(f"error of DP answers at ε={args.epsilon} over {args.rounds} runs × 13 districts "
          "(against the true answers):")  # fmt: skip
    for name, values in errors.items():
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"  {name:10s} median |error| {statistics.median(values):10.3f}  p95 {p95:10.3f}"
              f"  OpenDP accuracy (95 %): {accuracy.get(name, 'n/a')}")  # fmt: skip
    job_start(args.rounds * 4)


def job_start(rounds: int) -> None:
    import subprocess
    import tempfile

    from citybase.data.sandbox import runner

    limits = runner.Limits(seconds=10)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "in").mkdir()
        rows = "\n".join(f"{i},{i % 13}" for i in range(1000))
        (work / "in" / "t.csv").write_text("id,区\n" + rows + "\n", encoding="utf-8")
        figures: dict[str, list[float]] = {}
        for n in range(rounds + 1):
            for language, code in (("python", "x = 1"), ("sql", 'SELECT COUNT(*) AS n FROM "t"')):
                outcome = runner.run(work, language, code, limits)
                assert outcome.state == "done", (outcome.rule, outcome.reason, outcome.stderr)
                if n:
                    figures.setdefault(f"{language}: launch to first line", []).append(
                        outcome.start_seconds
                    )
                    figures.setdefault(f"{language}: whole job", []).append(outcome.seconds)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-I", "-c", "pass"], check=True, env={})
            if n:
                figures.setdefault("reference: python -I -c pass", []).append(
                    time.perf_counter() - started
                )
        print(f"code jobs' start, median of {rounds} (guards: {', '.join(outcome.guards)}):")
        for name, values in figures.items():
            print(f"  {name:36s} {statistics.median(values) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
