"""``orderBy`` of entity queries (NGSI-LD 4.23): the keys an entity is sorted by.

Each key is a path — ``id``, ``type``, ``createdAt``, ``modifiedAt``, an attribute (its value,
or a Relationship's object), a sub-attribute or an attribute's own ``createdAt`` /
``observedAt`` (``name.createdAt``), a member of a compound value (``address[city]``) — with
``;asc`` (the default), ``;desc``, or for a GeoProperty ``;dist-asc`` / ``;dist-desc``, the
great-circle distance from ``orderFrom`` (a point's coordinates). Numbers come before strings,
strings before other values (``desc`` reverses that whole order), and an entity without the key
comes last, whichever the direction.

A ``collation`` (a BCP 47 tag such as ``de-u-co-phonebk``) compares strings by their letters
without accents and case (``Ähre`` before ``Zebra``), then as written: an approximation of a
language's collation, not the Unicode Collation Algorithm.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from citybase.perception.context import attributes, jsonld
from citybase.perception.context.models import ContextEntity
from citybase.perception.context.service import SCOPE, BadRequestData

DIRECTIONS = ("asc", "desc", "dist-asc", "dist-desc")
PATH = re.compile(r"^(?P<name>[^.\[\];]+)(?:\.(?P<sub>[^.\[\];]+))?(?:\[(?P<key>[^\]]+)\])?$")
COLLATION = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$")
SYSTEM = {"id", "type", "createdAt", "modifiedAt"}


@dataclass(frozen=True)
class Key:
    name: str  # as given, expanded below where an attribute
    sub: str | None
    member: str | None
    direction: str


def parse(order_by: str | list[str], order_from: Any = None) -> list[Key]:
    """``orderBy`` (a comma-separated string, or a list of items) → its keys, checked."""
    items = order_by if isinstance(order_by, list) else order_by.split(",")
    keys = []
    for raw in items:
        if not isinstance(raw, str) or not raw.strip():
            raise BadRequestData("orderBy is a list of attribute paths", field="orderBy")
        path, _, direction = raw.strip().partition(";")
        direction = direction or "asc"
        found = PATH.match(path)
        if found is None or direction not in DIRECTIONS:
            raise BadRequestData(f"orderBy: {raw!r} is not path[;asc|desc|dist-asc|dist-desc]",
                                 field="orderBy")  # fmt: skip
        if direction.startswith("dist") and order_from is None:
            raise BadRequestData("ordering by distance needs orderFrom (a point's coordinates)",
                                 field="orderFrom")  # fmt: skip
        keys.append(Key(found["name"], found["sub"], found["key"], direction))
    return keys


def point(raw: Any) -> tuple[float, float]:
    """``orderFrom``: a point's coordinates, ``[lon, lat]`` (JSON text or a list)."""
    import json

    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        lon, lat = float(value[0]), float(value[1])
    except (ValueError, TypeError, IndexError, KeyError):
        raise BadRequestData("orderFrom is a point's coordinates, [lon, lat]",
                             field="orderFrom") from None  # fmt: skip
    return lon, lat


def check_collation(tag: Any) -> None:
    if not isinstance(tag, str) or not COLLATION.match(tag):
        raise BadRequestData("collation is a BCP 47 language tag (de-u-co-phonebk)",
                             field="collation")  # fmt: skip


def _letters(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c)).casefold()  # fmt: skip


def sorter(keys: list[Key], context: list[Any], origin: tuple[float, float] | None = None,
           collation: str | None = None) -> Callable[[list[ContextEntity]], list[ContextEntity]]:  # fmt: skip
    """A function sorting entities by the keys (a stable sort per key, the last key first)."""
    names = {k.name for k in keys if k.name not in SYSTEM}
    iris = jsonld.expand_names(context, names, set())[0] if names else {}
    subs = {k.sub for k in keys if k.sub and k.sub not in ("createdAt", "modifiedAt",
                                                            "observedAt")}  # fmt: skip
    sub_iris = jsonld.expand_names(context, subs, set())[0] if subs else {}

    def value(entity: ContextEntity, key: Key) -> Any:
        if key.name in SYSTEM and key.sub is None:
            return {"id": entity.id, "type": entity.type, "createdAt": entity.created_at,
                    "modifiedAt": entity.modified_at}[key.name]  # fmt: skip
        iri = SCOPE if key.name == "scope" else iris.get(key.name, key.name)
        attr = attributes.default(entity.attrs.get(iri))
        if not isinstance(attr, dict):
            return None
        if key.direction.startswith("dist"):
            return _distance(attr.get("value"), origin)
        if key.sub is not None:
            inner = attr.get(sub_iris.get(key.sub, key.sub))
            attr = inner if isinstance(inner, dict) else {"value": inner}
            if inner is None:
                return None
        found = attr.get(attributes.PAYLOAD.get(str(attr.get("type", "Property")), "value"),
                         attr.get("value"))  # fmt: skip
        if key.member is not None:
            found = found.get(key.member) if isinstance(found, dict) else None
        return found

    def rank(found: Any) -> tuple[int, Any]:
        if isinstance(found, bool):
            return 2, str(found)
        if isinstance(found, int | float):
            return 0, found
        if isinstance(found, str):
            return 1, (_letters(found), found) if collation else found
        if found is None:
            return 3, 0
        return 2, str(found) if not hasattr(found, "isoformat") else found.isoformat()

    def sort(entities: list[ContextEntity]) -> list[ContextEntity]:
        ordered = list(entities)
        for key in reversed(keys):
            present = [(rank(value(e, key)), e) for e in ordered]
            descending = key.direction in ("desc", "dist-desc")
            known = sorted((p for p in present if p[0][0] != 3), key=lambda p: p[0],
                           reverse=descending)  # fmt: skip
            ordered = [e for _, e in known] + [e for r, e in present if r[0] == 3]
        return ordered

    return sort


def _distance(geometry: Any, origin: tuple[float, float] | None) -> float | None:
    from shapely.geometry import Point, shape

    from citybase.perception.context.geo import _metres

    if origin is None or not isinstance(geometry, dict):
        return None
    try:
        return _metres(shape(geometry), Point(*origin))
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
