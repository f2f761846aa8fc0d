"""NGSI-LD entity queries over many entities: pages, counts, q and geo-queries.

    python bench/ngsi_query_bench.py [--backend sqlite|postgresql] [--entities 200000]
        [--queries 100]

``--entities`` entities of one type are written through the service's batch upsert (1,000 at a
time), each with a number and a location: a point scattered over about 40 × 40 km around
Fuzhou's centre, one in fifty a square of 50–500 m instead (a site, a park). Then, in the
service itself (no HTTP), each query ``--queries`` times at random places and pages, p50 / p95:

1. a page of 20 of the type at a random offset below 1,000; and its total (``count=true``);
2. ``q=n>…`` (about one entity in ten meets it), first page, no total;
3. ``near;maxDistance==500`` of a random point, and ``within`` a random 2 km square, first page
   of up to 100 with the total.

Reference, in the same run: the way these queries were answered before the database paged them
and before the place index — every entity of the type read in id order and each judged in
Python, then the page cut — measured on a tenth of the rounds (it is slow). The write rate
(entities a second, places filed with them) is printed too.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.perception.context import batch, geo, jsonld
from citybase.perception.context import service as context
from citybase.perception.context.models import ContextEntity

CORE: list[Any] = [jsonld.CORE_URL]
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
THING = "https://uri.etsi.org/ngsi-ld/default-context/Thing"
CENTRE = (119.30, 26.08)
SPREAD = 0.2  # degrees each way: about 40 km across


def entity(n: int, rng: random.Random) -> dict[str, Any]:
    lon = CENTRE[0] + rng.uniform(-SPREAD, SPREAD)
    lat = CENTRE[1] + rng.uniform(-SPREAD, SPREAD)
    if n % 50:
        where: dict[str, Any] = {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}
    else:
        side = rng.uniform(0.0005, 0.005)
        where = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + side, lat],
                 [lon + side, lat + side], [lon, lat + side], [lon, lat]]]}  # fmt: skip
    return {"id": f"urn:ngsi-ld:Thing:{n:07d}", "type": "Thing",
            "n": {"type": "Property", "value": rng.randrange(1000)},
            "location": {"type": "GeoProperty", "value": where}}  # fmt: skip


def timed(run: Callable[[], Any], rounds: int) -> tuple[float, float]:
    spent = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        spent.append((time.perf_counter() - start) * 1000)
    spent.sort()
    return statistics.median(spent), spent[min(len(spent) - 1, int(len(spent) * 0.95))]


def full_scan(session: Any, check: Callable[[ContextEntity], bool], offset: int, limit: int
              ) -> tuple[list[ContextEntity], int]:  # fmt: skip
    """The reference: every entity of the type read in id order and judged here."""
    rows = list(session.scalars(select(ContextEntity).where(ContextEntity.type == THING)
                                .order_by(ContextEntity.id)))  # fmt: skip
    matched = [r for r in rows if check(r)]
    return matched[offset : offset + limit], len(matched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as scratch:
        db = open_db(args.backend, Path(scratch))
        start = time.perf_counter()
        for first in range(0, args.entities, 1000):
            chunk = [entity(n, rng) for n in range(first, min(args.entities, first + 1000))]
            with db.session_scope() as session:
                _, refused, _ = batch.upsert_many(session, chunk, CORE)
                assert not refused, refused[:1]
        written = time.perf_counter() - start
        print(f"{args.backend}: {args.entities:,} entities written in {written:.0f} s "
              f"({args.entities / written:,.0f}/s, places filed with them)")  # fmt: skip
        slow = max(3, args.queries // 10)

        def point() -> tuple[float, float]:
            return (CENTRE[0] + rng.uniform(-SPREAD, SPREAD),
                    CENTRE[1] + rng.uniform(-SPREAD, SPREAD))  # fmt: skip

        def square() -> str:
            lon, lat = point()
            side = 0.02  # about 2 km
            return json.dumps([[[lon, lat], [lon + side, lat], [lon + side, lat + side],
                                [lon, lat + side], [lon, lat]]])  # fmt: skip

        rows: list[tuple[str, tuple[float, float], tuple[float, float] | None]] = []
        with db.session_scope(readonly=True) as s:

            def page() -> Any:
                return context.query(s, CORE, types=["Thing"], offset=rng.randrange(1000),
                                     count=False)  # fmt: skip

            def counted() -> Any:
                return context.query(s, CORE, types=["Thing"], limit=20, count=True)

            def q() -> Any:
                return context.query(s, CORE, types=["Thing"], q=f"n>{900 + rng.randrange(5)}",
                                     count=False)  # fmt: skip

            def near() -> Any:
                lon, lat = point()
                return context.query(s, CORE, types=["Thing"], limit=100, geo=(
                    "near;maxDistance==500", "Point", json.dumps([lon, lat])))  # fmt: skip

            def within() -> Any:
                return context.query(s, CORE, types=["Thing"], limit=100,
                                     geo=("within", "Polygon", square()))  # fmt: skip

            def ref_page() -> Any:
                return full_scan(s, lambda r: True, rng.randrange(1000), 20)

            def ref_q() -> Any:
                bound = 900 + rng.randrange(5)
                return full_scan(s, lambda r: r.attrs["https://uri.etsi.org/ngsi-ld/default-context/n"]
                                 ["value"] > bound, 0, 20)  # fmt: skip

            def ref_geo(relation: str, geometry: str, coordinates: str) -> Any:
                how, low, high, shape = geo.parse_geo(relation, geometry, coordinates)
                return full_scan(s, lambda r: geo.geo_matches(r, LOCATION, how, low, high,
                                                                  shape), 0, 100)  # fmt: skip

            def ref_near() -> Any:
                lon, lat = point()
                return ref_geo("near;maxDistance==500", "Point", json.dumps([lon, lat]))

            def ref_within() -> Any:
                return ref_geo("within", "Polygon", square())

            found = near()
            assert found[1] is not None
            rows.append(("a page of 20 at offset < 1,000", timed(page, args.queries),
                         timed(ref_page, slow)))  # fmt: skip
            rows.append(("the total of the type (count=true)", timed(counted, args.queries),
                         None))  # fmt: skip
            rows.append(("q=n>90x, first page, no total", timed(q, args.queries),
                         timed(ref_q, slow)))  # fmt: skip
            rows.append(("near;maxDistance==500, with total", timed(near, args.queries),
                         timed(ref_near, slow)))  # fmt: skip
            rows.append(("within a 2 km square, with total", timed(within, args.queries),
                         timed(ref_within, slow)))  # fmt: skip
        print(
            f"{'query':38} {'p50 ms':>8} {'p95 ms':>8} {'ref p50':>9} {'ref p95':>9} {'ratio':>7}"
        )
        for name, (p50, p95), ref in rows:
            if ref is None:
                print(f"{name:38} {p50:8.1f} {p95:8.1f}")
            else:
                print(f"{name:38} {p50:8.1f} {p95:8.1f} {ref[0]:9.0f} {ref[1]:9.0f} "
                      f"{ref[0] / p50:6.0f}×")  # fmt: skip
        db.engine.dispose()


if __name__ == "__main__":
    main()
