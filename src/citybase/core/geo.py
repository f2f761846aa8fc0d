"""Places on the earth: distances, and WGS84 ↔ GCJ-02.

Devices report WGS84 (GPS). Chinese web maps (AMap/Gaode, Tencent, and Baidu's base layer) draw
in GCJ-02, a published offset of WGS84 by up to a few hundred metres; a WGS84 point drawn on such
a map lands in the wrong street. ``wgs84_to_gcj02`` is the widely used open formula (Krasovsky
ellipsoid), exact to it; ``gcj02_to_wgs84`` inverts it by iteration to well under a metre.
Outside China both leave the point alone."""

from __future__ import annotations

from math import atan2, cos, pi, radians, sin, sqrt

_A = 6378245.0  # Krasovsky 1940 semi-major axis
_EE = 0.00669342162296594323  # its first eccentricity squared
EARTH_RADIUS_M = 6371008.8


def out_of_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _lat_offset(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
    ret += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    ret += (160.0 * sin(y / 12.0 * pi) + 320.0 * sin(y * pi / 30.0)) * 2.0 / 3.0
    return ret


def _lon_offset(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
    ret += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    ret += (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    ret += (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    if out_of_china(lon, lat):
        return lon, lat
    dlat = _lat_offset(lon - 105.0, lat - 35.0)
    dlon = _lon_offset(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * pi
    magic = 1 - _EE * sin(radlat) ** 2
    sqrtmagic = sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * cos(radlat) * pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """The WGS84 point whose GCJ-02 image is (lon, lat), found by fixed-point iteration."""
    if out_of_china(lon, lat):
        return lon, lat
    x, y = lon, lat
    for _ in range(30):
        gx, gy = wgs84_to_gcj02(x, y)
        dx, dy = gx - lon, gy - lat
        x, y = x - dx, y - dy
        if abs(dx) < 1e-10 and abs(dy) < 1e-10:
            break
    return x, y


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = radians(lat1), radians(lat2)
    dp, dl = p2 - p1, radians(lon2 - lon1)
    h = sin(dp / 2) ** 2 + cos(p1) * cos(p2) * sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * atan2(sqrt(h), sqrt(1 - h))


# --- Z-order tiles: places found by an ordinary index ---------------------------------------------
#
# The earth (lon −180…180, lat −90…90) is cut in four, each quarter in four, down to ZLEVELS
# levels (about 2 m × 1 m at the finest). A box is filed under the smallest tile that holds it, as
# (level, key): the key is the Morton code (x and y bits interleaved) of the tile's lower-left
# finest cell, so that every tile inside a tile has its key within that tile's key range. The
# boxes that may overlap a query box are then those whose key falls in the ranges of the few
# tiles covering the query (they lie inside those tiles) plus those filed under one of those
# tiles' ancestors (a short list of exact keys): range and equality look-ups on one integer
# column, with no spatial extension in the database.

ZLEVELS = 24


def _spread(v: int) -> int:
    """The bits of a 24-bit integer, each moved to an even position (for interleaving)."""
    v &= 0xFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    v = (v | (v << 1)) & 0x5555555555555555
    return v


def _morton(x: int, y: int) -> int:
    return _spread(x) | (_spread(y) << 1)


_FINEST = 1 << ZLEVELS


def _cell(value: float, low: float, span: float) -> int:
    return min(max(int((value - low) / span * _FINEST), 0), _FINEST - 1)


def _cells(west: float, south: float, east: float, north: float, level: int) -> tuple[int, ...]:
    """The box's corner cells at ``level``: its finest cells' ancestors, so that every level
    agrees with every other at its edges."""
    shift = ZLEVELS - level
    return (_cell(west, -180, 360) >> shift, _cell(south, -90, 180) >> shift,
            _cell(east, -180, 360) >> shift, _cell(north, -90, 180) >> shift)  # fmt: skip


def zorder_key(west: float, south: float, east: float, north: float) -> tuple[int, int]:
    """(level, key) of the smallest tile that holds the box (a point: the finest)."""
    x0, y0, x1, y1 = _cells(west, south, east, north, ZLEVELS)
    shift = max((x0 ^ x1).bit_length(), (y0 ^ y1).bit_length())
    return ZLEVELS - shift, _morton(x0 >> shift << shift, y0 >> shift << shift)


def zorder_cover(
    west: float, south: float, east: float, north: float
) -> tuple[list[tuple[int, int]], list[int], int]:
    """What a query box can overlap: key ranges [low, high) of at most four tiles covering it,
    the keys of those tiles' ancestors, and the covering tiles' level (ancestors are filed at
    levels below it)."""
    level = ZLEVELS
    while level > 0:
        x0, y0, x1, y1 = _cells(west, south, east, north, level)
        if x1 - x0 <= 1 and y1 - y0 <= 1:
            break
        level -= 1
    x0, y0, x1, y1 = _cells(west, south, east, north, level)
    shift = ZLEVELS - level
    ranges = []
    ancestors: set[int] = set()
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            low = _morton(x << shift, y << shift)
            ranges.append((low, low + (1 << (2 * shift))))
            for up in range(1, level + 1):
                ax, ay = x >> up, y >> up
                ancestors.add(_morton(ax << (shift + up), ay << (shift + up)))
    return ranges, sorted(ancestors), level


def expand_m(
    west: float, south: float, east: float, north: float, metres: float
) -> tuple[float, float, float, float]:
    """The box grown by ``metres`` on every side (a little more, never less)."""
    dlat = metres / 111_000
    widest = max(abs(south), abs(north)) + dlat
    dlon = 180.0 if widest >= 89 else metres / (111_000 * cos(radians(widest)))
    return (max(west - dlon, -180.0), max(south - dlat, -90.0), min(east + dlon, 180.0),
            min(north + dlat, 90.0))  # fmt: skip
