"""Placing a point among a city's outlines.

    python bench/boundaries_bench.py [--backend sqlite|postgresql] [--grids 30000] [--points 5000]

A city outlined to its grids, as a grid management system exports it: 1 city, 14 districts,
14 × 15 streets, 15 communities in each street and the grids of each community (``--grids`` in
all, about 30,000 for a large city), each outline a ring of 64 vertices (a real street's
outline has hundreds: the containment test grows with them, the range query does not). Timed:
importing them all (GeoJSON → checked, stored, with their bounding boxes), then placing
``--points`` random points with ``region_at`` — the regions around the point found by the range
query on the bounding boxes, their outlines parsed once per process and kept, the deepest
consistent one chosen — as a case's intake does. The reference, in the same run: the same
outlines in memory in a shapely STRtree (a spatial index with nothing to read from a database),
asked for the outlines that hold each point.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import shapely
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import boundaries
from citybase.core.orgs.models import Region
from citybase.core.orgs.schemas import RegionCreate, RegionLevel

WEST, SOUTH, SIZE = 118.6, 25.4, 1.2  # the city: a square of 1.2° (about 130 km)
ACTOR = Actor.system("bench")


def ring(west: float, south: float, width: float, height: float) -> list[list[float]]:
    """A 64-vertex outline filling the cell (its edges walked point by point)."""
    side = 16
    points = ([(west + width * i / side, south) for i in range(side)]
              + [(west + width, south + height * i / side) for i in range(side)]
              + [(west + width * (1 - i / side), south + height) for i in range(side)]
              + [(west, south + height * (1 - i / side)) for i in range(side)])  # fmt: skip
    return [[round(x, 7), round(y, 7)] for x, y in [*points, points[0]]]


def city(grids: int) -> tuple[list[RegionCreate], list[dict[str, object]]]:
    """Regions and their outlines: each level a grid of equal cells inside its parent."""
    per_community = max(1, round(grids / (14 * 15 * 15)))
    regions = [RegionCreate(code="350100", name="city", level=RegionLevel.city)]
    features: list[dict[str, object]] = []

    def add(code: str, level: RegionLevel, parent: str | None, cell: tuple[float, ...]) -> None:
        if parent is not None:
            regions.append(RegionCreate(code=code, name=code, level=level, parent_code=parent,
                                        official=level is not RegionLevel.grid))  # fmt: skip
        geometry = {"type": "Polygon", "coordinates": [ring(*cell)]}
        features.append({"type": "Feature", "properties": {"code": code}, "geometry": geometry})

    def split(cell: tuple[float, ...], n: int) -> list[tuple[float, ...]]:
        west, south, width, height = cell
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        return [(west + width * (i % cols) / cols, south + height * (i // cols) / rows,
                 width / cols, height / rows) for i in range(n)]  # fmt: skip

    top = (WEST, SOUTH, SIZE, SIZE)
    add("350100", RegionLevel.city, None, top)
    for d, dc in enumerate(split(top, 14)):
        district = f"3501{d + 2:02d}"
        add(district, RegionLevel.district, "350100", dc)
        for s, sc in enumerate(split(dc, 15)):
            street = f"{district}{s + 1:03d}"
            add(street, RegionLevel.street, district, sc)
            for c, cc in enumerate(split(sc, 15)):
                community = f"{street}{c + 1:03d}"
                add(community, RegionLevel.community, street, cc)
                for g, gc in enumerate(split(cc, per_community)):
                    add(f"{community}G{g + 1:02d}", RegionLevel.grid, community, gc)
    return regions, features


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--grids", type=int, default=30_000)
    parser.add_argument("--points", type=int, default=5_000)
    args = parser.parse_args()
    regions, features = city(args.grids)
    print(f"{len(regions):,} regions outlined ({args.backend}), {args.points:,} points")
    with tempfile.TemporaryDirectory() as where:
        db = open_db(args.backend, Path(where))
        with db.session_scope() as session:  # the register, written straight (not timed)
            session.execute(insert(Region), [r.model_dump() for r in regions])
        content = json.dumps({"type": "FeatureCollection", "features": features}).encode()
        start = time.perf_counter()
        with db.session_scope() as session:
            report = boundaries.import_boundaries(session, ACTOR, content)
        seconds = time.perf_counter() - start
        assert report.applied, report.problems[:3]
        print(f"import: {seconds:.1f} s ({len(features) / seconds:,.0f} outlines/s, "
              f"{len(content) / 1e6:.0f} MB of GeoJSON)")  # fmt: skip

        rng = random.Random(0)
        shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
        grids = [g.bounds for g, f in zip(shapes, features, strict=True)
                 if "G" in str(f["properties"]["code"])]  # type: ignore[index]  # fmt: skip
        points = []
        for west, south, east, north in rng.choices(grids, k=args.points):
            points.append((rng.uniform(west, east), rng.uniform(south, north)))
        tree = shapely.STRtree(shapes)
        start = time.perf_counter()
        for lon, lat in points:
            tree.query(shapely.Point(lon, lat), predicate="within")
        reference = (time.perf_counter() - start) / len(points)

        timings = []
        with db.session_scope(readonly=True) as session:
            lon, lat = points[0]
            start = time.perf_counter()
            boundaries.region_at(session, lon, lat)
            first = time.perf_counter() - start
            for lon, lat in points:
                start = time.perf_counter()
                found = boundaries.region_at(session, lon, lat)
                timings.append(time.perf_counter() - start)
                assert found is not None
                assert found.level is RegionLevel.grid
        timings.sort()
        mean = statistics.fmean(timings)
        print(f"place a point: first {first * 1e3:.1f} ms (outlines parsed), then mean "
              f"{mean * 1e3:.2f} ms, p99 {timings[int(len(timings) * 0.99)] * 1e3:.2f} ms "
              f"({1 / mean:,.0f} points/s)")  # fmt: skip
        print(f"reference (STRtree in memory): {reference * 1e6:.0f} µs a point; "
              f"ratio {mean / reference:,.0f}×")  # fmt: skip
        db.engine.dispose()


if __name__ == "__main__":
    main()
