"""De-identified release benchmark: the generalisation search of a release over 200,000 rows,
against one plain group-by of the same rows, in the same run.

    python bench/release_bench.py [--rows 200000] [--rounds 3]

The rows are generated (a birth date over 60 years, a sex, one of 39 streets of 13 districts of
one city, a sensitive column of 8 values) as the traced read serves them. Timed:

- **ladders**: ``release_lattice.ladder_of`` for the three quasi-identifiers (every value lifted
  to every level of its hierarchy: date → month → year → *, the region tree street → district
  → city → *, sex → *).
- **search**: ``release_lattice.search`` at k = 10, l = 2, 5 % suppression (every combination of
  levels up to the lowest that qualifies, each a Polars group-by).
- **measure**: ``release_lattice.measure`` of the released rows (k and l counted again).
- **reference**: one Polars group-by of the raw three columns with count and distinct count.

Each is the median of ``--rounds`` after one round to warm up. The traced read itself is not
timed here (it is the same for every consumer).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import polars as pl

from citybase.data.sandbox import release_lattice as lattice
from citybase.data.sandbox.release_schemas import Hierarchy


def _regions() -> tuple[lattice.Regions, list[str]]:
    regions = [lattice.Region("350100", "福州市", "city", "")]
    streets = []
    for d in range(13):
        district = f"3501{d + 2:02d}"
        regions.append(lattice.Region(district, f"第{d + 1}区", "district", "350100"))
        for s in range(3):
            code = f"{district}{s + 1:03d}"
            regions.append(lattice.Region(code, f"第{d + 1}区第{s + 1}街道", "street", district))
            streets.append(code)
    return lattice.Regions.of(regions), streets


def _timed(rounds: int, work):  # type: ignore[no-untyped-def]
    work()
    times = []
    result = None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(7)
    regions, streets = _regions()
    births = [f"{rng.randint(1950, 2009)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
              for _ in range(args.rows)]  # fmt: skip
    sexes = [rng.choice("男女") for _ in range(args.rows)]
    places = [rng.choice(streets) for _ in range(args.rows)]
    sensitive = [f"类型{rng.randint(1, 8)}" for _ in range(args.rows)]
    specs = {
        "出生日期": (Hierarchy.model_validate({"kind": "date", "levels": ["month", "year"]}), births),
        "性别": (Hierarchy.model_validate({"kind": "value"}), sexes),
        "所在街道": (Hierarchy.model_validate({"kind": "region",
                                               "levels": ["district", "city"]}), places),
    }  # fmt: skip

    def ladders() -> list[lattice.Ladder]:
        return [lattice.ladder_of(c, h, v, regions) for c, (h, v) in specs.items()]

    t_ladders, built = _timed(args.rounds, ladders)
    t_search, outcome = _timed(args.rounds,
                               lambda: lattice.search(built, sensitive, 10, 2, 0.05))  # fmt: skip
    released = [{ld.column: ld.lifted[outcome.levels[ld.column]][i] for ld in built}
                | {"s": sensitive[i]} for i in outcome.kept]  # fmt: skip
    t_measure, measured = _timed(args.rounds, lambda: lattice.measure(released, list(specs), "s"))
    frame = pl.DataFrame({"b": births, "x": sexes, "p": places, "s": sensitive})
    t_ref, _ = _timed(args.rounds, lambda: frame.group_by(["b", "x", "p"]).agg(
        pl.len(), pl.col("s").n_unique()))  # fmt: skip
    print(
        f"rows {args.rows:,}; levels kept {outcome.levels}; suppressed {outcome.suppressed:,}; "
        f"combinations tried {outcome.tried}; measured k, l = {measured}"
    )
    for name, t in (("ladders", t_ladders), ("search", t_search), ("measure", t_measure),
                    ("reference group-by", t_ref)):  # fmt: skip
        print(f"{name:>20}: {t * 1000:9.1f} ms  ({t / t_ref:6.1f}× the reference)")
    total = t_ladders + t_search + t_measure
    print(
        f"{'release, all three':>20}: {total * 1000:9.1f} ms  ({total / t_ref:6.1f}× the reference)"
    )


if __name__ == "__main__":
    main()
