"""Convert Fuzhou's district outlines from ECharts' compressed map file into the demo's GeoJSON.

Run once; its output is ``src/citybase/demo/boundaries.geojson`` (the districts and the city).
Kept here so that anyone can repeat the conversion and check it; it is not a benchmark.

Source: ``echarts_china_cities_pypkg/resources/echarts-china-cities-js/fu2_jian4_fu2_zhou1.js``
from the PyPI package echarts-china-cities-pypkg (MIT licence, pyecharts project), unpacked from
its sdist. It is not a dependency of citybase: its sdist does not build in isolation, and the
demo needs the outlines only as data.

The file registers one FeatureCollection with ``UTF8Encoding: true``: each ring is a string whose
characters, two per point, are zigzag-encoded deltas offset by 64, starting from the ring's
``encodeOffsets`` pair; dividing by 1024 gives degrees. This is ECharts' ``decodePolygon``.
The outlines are in GCJ-02 (ECharts' Chinese maps come from AMap/DataV data, see docs/kernel.md);
``--wgs84`` (the default) moves every point back to WGS84 with ``citybase.core.geo``.

    python bench/convert_echarts_outlines.py PATH/TO/fu2_jian4_fu2_zhou1.js \
        --keep src/citybase/demo/boundaries.geojson > /tmp/boundaries.geojson
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import Polygon, mapping, shape
from shapely.ops import unary_union
from shapely.validation import make_valid

from citybase.core.geo import gcj02_to_wgs84

SCALE = 1024.0
CITY = "350100"
# 长乐市 became 长乐区 in 2017 (国函〔2017〕56号); the file still has the county-level city
RENAMED = {"350182": "350112"}
NAMES = {"350112": "长乐区"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BARE_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")


def read_map(text: str) -> dict[str, Any]:
    """The FeatureCollection literal of the ``registerMap`` call, as JSON (keys quoted outside
    strings only: the encoded rings hold ``{`` and ``,``)."""
    start = text.index('{type:"FeatureCollection"')
    end = text.index(",UTF8Encoding:!0}", start)
    literal = text[start:end] + "}"
    parts: list[str] = []
    last = 0
    for found in _STRING.finditer(literal):
        parts.append(_BARE_KEY.sub(r'\1"\2":', literal[last : found.start()]))
        parts.append(found.group(0))
        last = found.end()
    parts.append(_BARE_KEY.sub(r'\1"\2":', literal[last:]))
    return json.loads("".join(parts))


def decode_ring(encoded: str, offset: list[int]) -> list[tuple[float, float]]:
    """ECharts' decodePolygon: zigzag deltas, two characters a point, from ``offset``."""
    prev_x, prev_y = offset
    ring: list[tuple[float, float]] = []
    for i in range(0, len(encoded), 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        x = (x >> 1) ^ -(x & 1)
        y = (y >> 1) ^ -(y & 1)
        prev_x, prev_y = prev_x + x, prev_y + y
        ring.append((prev_x / SCALE, prev_y / SCALE))
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def decode_geometry(geometry: dict[str, Any], wgs84: bool) -> dict[str, Any]:
    offsets = geometry["encodeOffsets"]

    def ring(encoded: str, offset: list[int]) -> list[list[float]]:
        points = decode_ring(encoded, offset)
        if wgs84:
            points = [gcj02_to_wgs84(lon, lat) for lon, lat in points]
        return [[round(lon, 5), round(lat, 5)] for lon, lat in points]

    if geometry["type"] == "Polygon":
        polygons = [[ring(r, o) for r, o in zip(geometry["coordinates"], offsets, strict=True)]]
    else:
        polygons = [
            [ring(r, o) for r, o in zip(polygon, polygon_offsets, strict=True)]
            for polygon, polygon_offsets in zip(geometry["coordinates"], offsets, strict=True)
        ]
    # islands of one or two points decode to nothing; make_valid repairs a self-touching ring
    parts = []
    for rings in polygons:
        rings = [r for r in rings if len(r) >= 4]
        if not rings:
            continue
        parts += _polygons(make_valid(Polygon(rings[0], rings[1:])))
    merged = unary_union([g for g in parts if g.area])
    return _rounded(merged)


def _polygons(geom: Any) -> list[Polygon]:
    """The polygons in what make_valid returns (a collection may hold polygons and lines)."""
    if geom.geom_type == "Polygon":
        return [geom]
    return [p for g in getattr(geom, "geoms", []) for p in _polygons(g)]


def _rounded(geom: Any) -> dict[str, Any]:
    return dict(mapping(shapely.set_precision(geom, 1e-5)))


def convert(text: str, keep: dict[str, Any] | None, wgs84: bool, source: str) -> dict[str, Any]:
    features: list[dict[str, Any]] = []
    districts = []
    for feature in read_map(text)["features"]:
        geometry = decode_geometry(feature["geometry"], wgs84)
        districts.append(shape(geometry))
        code = RENAMED.get(str(feature["id"]), str(feature["id"]))
        props = {"code": code, "name": NAMES.get(code, feature["properties"]["name"])}
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    city = unary_union(districts)
    city_feature = {
        "type": "Feature",
        "properties": {"code": CITY, "name": "福州市"},
        "geometry": _rounded(city),
    }
    # the demo's streets, communities and grids are drawn, not surveyed: each is cut to its
    # district's real outline so that it lies inside it
    by_code = {f["properties"]["code"]: shape(f["geometry"]) for f in features}
    kept = []
    for f in (keep or {}).get("features", []):
        code = str(f["properties"]["code"])
        if len(code) <= 6:
            continue  # the city and districts come from the file
        district = by_code.get(code[:6])
        geom = shape(f["geometry"])
        if district is not None and not district.contains(geom):
            geom = geom.intersection(district)
        kept.append({"type": "Feature", "properties": f["properties"], "geometry": _rounded(geom)})
    return {
        "type": "FeatureCollection",
        "name": "citybase demo city: Fuzhou's districts and counties",
        "source": source,
        "features": [city_feature, *features, *kept],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("js", type=Path, help="fu2_jian4_fu2_zhou1.js")
    parser.add_argument("--keep", type=Path, help="a GeoJSON whose sub-district features to keep")
    parser.add_argument("--gcj02", action="store_true", help="keep the file's GCJ-02 points")
    parser.add_argument(
        "--source",
        default=(
            "echarts-china-cities-pypkg 0.0.9 (MIT), fu2_jian4_fu2_zhou1.js, "
            "decoded and moved from GCJ-02 to WGS84"
        ),
    )
    args = parser.parse_args()
    keep = json.loads(args.keep.read_text(encoding="utf-8")) if args.keep else None
    text = args.js.read_text(encoding="utf-8")
    out = convert(text, keep, wgs84=not args.gcj02, source=args.source)
    json.dump(out, sys.stdout, ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
