"""Geo-queries of the NGSI-LD store (ETSI GS CIM 009, 4.10): ``georel``, ``geometry`` and
``coordinates`` parsed, and geometries matched."""

from __future__ import annotations

import json
import math
from typing import Any

from citybase.perception.context import attributes
from citybase.perception.context.attributes import GEOMETRIES
from citybase.perception.context.errors import BadRequestData
from citybase.perception.context.models import (
    ContextEntity,
)

# --- geo-queries ----------------------------------------------------------------------------------

GEORELS = {"near", "within", "contains", "intersects", "equals", "disjoint", "overlaps"}


def parse_geo(
    georel: str, geometry: str, coordinates: str
) -> tuple[str, float | None, float | None, Any]:
    """``georel`` (``near;maxDistance==2000`` …), ``geometry`` and ``coordinates`` (JSON) → the
    relation, the distances in metres and the query's shape."""
    from shapely.geometry import shape

    parts = georel.split(";")
    relation = parts[0]
    if relation not in GEORELS:
        raise BadRequestData(f"georel is one of {', '.join(sorted(GEORELS))}", field="georel")
    low = high = None
    if len(parts) > 2:
        raise BadRequestData("georel: near takes one distance, maxDistance or minDistance",
                             field="georel")  # fmt: skip
    for part in parts[1:]:
        key, _, value = part.partition("==")
        try:
            number = float(value)
        except ValueError:
            raise BadRequestData(f"georel: {part} is not a distance", field="georel") from None
        if not math.isfinite(number) or number < 0 or (key == "maxDistance" and number == 0):
            raise BadRequestData(f"georel: {part} is not a distance in metres", field="georel")
        if key == "maxDistance":
            high = number
        elif key == "minDistance":
            low = number
        else:
            raise BadRequestData(f"georel: unknown {key}", field="georel")
    if relation == "near" and low is None and high is None:
        raise BadRequestData("near needs maxDistance or minDistance", field="georel")
    if geometry not in GEOMETRIES:
        raise BadRequestData(
            f"geometry is one of {', '.join(sorted(GEOMETRIES))}", field="geometry"
        )
    try:
        found = shape({"type": geometry, "coordinates": json.loads(coordinates)})
    except (ValueError, TypeError, IndexError, AttributeError) as exc:
        raise BadRequestData(f"coordinates do not make a {geometry}: {exc}",
                             field="coordinates") from None  # fmt: skip
    if not found.is_valid:
        raise BadRequestData(f"the {geometry} is not valid", field="coordinates")
    return relation, low, high, found


def _metres(a: Any, b: Any) -> float:
    """Distance in metres between two shapes near each other (nearest points, great circle)."""
    from shapely.ops import nearest_points

    from citybase.core.geo import distance_m

    p, q = nearest_points(a, b)
    return distance_m(p.x, p.y, q.x, q.y)


def geo_matches(entity: ContextEntity, attribute: str, relation: str, low: float | None,
                high: float | None, query: Any) -> bool:  # fmt: skip
    attr = attributes.default(entity.attrs.get(attribute))
    if not isinstance(attr, dict):
        return False
    return geometry_matches(attr.get("value"), relation, low, high, query)


def geometry_matches(value: Any, relation: str, low: float | None, high: float | None,
                     query: Any) -> bool:  # fmt: skip
    """Whether a GeoJSON geometry stands in the relation to the query's shape."""
    from shapely.geometry import shape

    if not isinstance(value, dict):
        return False
    try:
        own = shape(value)
    except (ValueError, TypeError, IndexError, AttributeError):
        return False
    if relation == "near":
        distance = _metres(own, query)
        return (high is None or distance <= high) and (low is None or distance >= low)
    return bool(getattr(own, relation)(query))
