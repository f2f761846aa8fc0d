"""What an NGSI-LD attribute may be (ETSI GS CIM 009, 4.5 and 5.2): its kinds, the member that
carries each kind's value, and the checks made before anything is stored — an attribute the
standard refuses is refused with the reason, never stored."""

from __future__ import annotations

import contextlib
import json
import re
import unicodedata
from datetime import datetime
from typing import Any

from citybase.core.errors import CitybaseError

# each kind of attribute and the member holding its value
PAYLOAD = {
    "Property": "value",
    "Relationship": "object",
    "GeoProperty": "value",
    "LanguageProperty": "languageMap",
    "JsonProperty": "json",
    "VocabProperty": "vocab",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
KINDS = set(PAYLOAD)
GEOMETRIES = {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon"}
# members only a broker writes (in answers and notifications): refused on the way in
OUTPUT_ONLY = {"previousValue", "previousObject", "previousLanguageMap", "previousJson",
               "previousVocab", "previousValueList", "previousObjectList", "entityIdSealed",
               "entityTypeSealed"}  # fmt: skip
# core terms that are members of an attribute or entity, never names of attributes themselves
NOT_NAMES = {"datasetId", "instanceId", "observedAt", "createdAt", "modifiedAt", "deletedAt",
             "unitCode", "value", "object", "languageMap", "json", "vocab", "valueList",
             "objectList", "@id", "@type"}  # fmt: skip
GEO_NAMES = {"location", "observationSpace", "operationSpace"}
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$")
LANGUAGE_TAG = re.compile(r"^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|@none)$")
SCOPE = re.compile(r"^/[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*$")
UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z$")
# invisible or look-alike characters that make two ids look the same and are not the same
_FILLERS = {"\u115f", "\u1160", "\u3164", "\uffa0", "\u2800", "\u180e"}


NGSI_NULL = "urn:ngsi-ld:null"


class BadAttribute(CitybaseError):
    status_code = 400
    code = "BadRequestData"


def payload(attr: dict[str, Any]) -> Any:
    """The value an attribute carries, whatever its kind."""
    return attr.get(PAYLOAD.get(str(attr.get("type")), "value"))


def check_id(entity_id: Any, field: str = "id") -> str:
    """An entity id: a URI, with no character that hides (format, control, private,
    unassigned, variation selectors, fillers) or delimits markup."""
    if not isinstance(entity_id, str) or not URI.match(entity_id):
        raise BadAttribute(f"{field} must be a URI (urn:ngsi-ld:Type:123)", field=field)
    for char in entity_id:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Co", "Cn", "Cs", "Zs", "Zl", "Zp") or char in _FILLERS \
                or 0xFE00 <= ord(char) <= 0xFE0F or 0xE0100 <= ord(char) <= 0xE01EF:  # fmt: skip
            raise BadAttribute(f"{field} holds the invisible character U+{ord(char):04X}",
                               field=field)  # fmt: skip
    return entity_id


def check_scope(scope: Any) -> list[str]:
    scopes = scope if isinstance(scope, list) else [scope]
    if not scopes:
        raise BadAttribute("scope is a scope or a list of them", field="scope")
    for item in scopes:
        if not isinstance(item, str) or not SCOPE.match(item):
            raise BadAttribute(f"scope {item!r} is not /Level/Level… (levels are letters, digits "
                               "and _, not starting with a digit)", field="scope")  # fmt: skip
    return scopes


def _has_null(value: Any) -> bool:
    """A JSON null or NGSI-LD's null (``urn:ngsi-ld:null``) anywhere in a value: it says "delete"
    in an update and cannot be stored."""
    if value is None or value == NGSI_NULL:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


def _geometry(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in GEOMETRIES and \
        isinstance(value.get("coordinates"), list)  # fmt: skip


def point_ok(coordinates: list[Any]) -> bool:
    return (len(coordinates) in (2, 3) and all(isinstance(c, int | float) for c in coordinates)
            and -180 <= coordinates[0] <= 180 and -90 <= coordinates[1] <= 90)  # fmt: skip


def check_name(name: str) -> None:
    if name in NOT_NAMES:
        raise BadAttribute(f"{name} is a member of the core context, not an attribute name",
                           field=name)  # fmt: skip


def check(name: str, attr: Any, *, top: bool = True) -> None:
    """One attribute (normalized), with its sub-attributes; raises naming what is wrong."""
    if not isinstance(attr, dict):
        raise BadAttribute(f"attribute {name}: an object with a type is expected", field=name)
    if top:
        check_name(name)
    kind = attr.get("type")
    if kind not in KINDS:
        raise BadAttribute(f"attribute {name}: type is one of {', '.join(sorted(KINDS))}",
                           field=name)  # fmt: skip
    if "@context" in attr:
        raise BadAttribute(f"attribute {name}: an @context belongs to the entity, not inside an "
                           "attribute", field=name)  # fmt: skip
    if top and name in GEO_NAMES and kind != "GeoProperty":
        raise BadAttribute(f"{name} is a GeoProperty", field=name)
    own = PAYLOAD[kind]
    others = (set(PAYLOAD.values()) - {own}) | OUTPUT_ONLY
    wrong = sorted(k for k in attr if k in others)
    if wrong:
        raise BadAttribute(f"attribute {name}: a {kind} has no {wrong[0]}", field=name)
    # a JsonProperty's json is kept verbatim: a null inside it is data, not a deletion
    nulled = attr.get(own) in (None, NGSI_NULL) if kind == "JsonProperty" else \
        _has_null(attr.get(own))  # fmt: skip
    if own not in attr or nulled:
        raise BadAttribute(f"attribute {name}: {own} is needed and may not be null", field=name)
    value = attr[own]
    if kind == "Relationship" and (not isinstance(value, str) or not URI.match(value)):
        if not (isinstance(value, list) and value and all(isinstance(v, str) and URI.match(v)
                                                          for v in value)):  # fmt: skip
            raise BadAttribute(f"relationship {name}: object must be a URI", field=name)
    if kind == "Relationship" and "unitCode" in attr:
        raise BadAttribute(f"relationship {name}: a Relationship has no unitCode", field=name)
    if kind == "GeoProperty":
        if not _geometry(value):
            raise BadAttribute(f"{name}: a GeoJSON geometry (Point, Polygon, …) is expected",
                               field=name)  # fmt: skip
        if value["type"] == "Point" and not point_ok(value["coordinates"]):
            raise BadAttribute(f"{name}: a Point is [longitude, latitude] within range",
                               field=name)  # fmt: skip
    if kind == "LanguageProperty":
        if not isinstance(value, dict) or not value or not all(
                isinstance(k, str) and LANGUAGE_TAG.match(k) and (
                    isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v)))
                for k, v in value.items()):  # fmt: skip
            raise BadAttribute(f"{name}: languageMap maps language tags to strings", field=name)
    if kind == "JsonProperty" and (not isinstance(value, dict | list) or "unitCode" in attr):
        raise BadAttribute(f"{name}: json is an object or an array, with no unitCode", field=name)
    if kind == "LanguageProperty" and attr.get("valueType", "LangString") != "LangString":
        raise BadAttribute(f"{name}: the valueType of a LanguageProperty is LangString",
                           field=name)  # fmt: skip
    if kind == "VocabProperty" and not (
            isinstance(value, str) or (isinstance(value, list) and value
                                       and all(isinstance(v, str) for v in value))):  # fmt: skip
        raise BadAttribute(f"{name}: vocab is a term or a list of terms", field=name)
    if kind == "ListProperty" and not isinstance(value, list):
        raise BadAttribute(f"{name}: valueList is an array", field=name)
    if kind == "ListRelationship":
        if not isinstance(value, list) or not all(
                URI.match(v if isinstance(v, str) else str(v.get("object", "")) if isinstance(v, dict)
                          else "") for v in value):  # fmt: skip
            raise BadAttribute(f"{name}: objectList is an array of URIs", field=name)
    if kind == "Property" and isinstance(value, dict) and ("@context" in value):
        raise BadAttribute(f"{name}: an @context belongs to the entity", field=name)
    if "observedAt" in attr:
        raw = attr["observedAt"]
        try:
            datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            ok = isinstance(raw, str) and bool(UTC_TIME.match(raw))
        except ValueError:
            ok = False
        if not ok:
            raise BadAttribute(f"{name}: observedAt is an ISO 8601 date-time in UTC (…Z)",
                               field=name)  # fmt: skip
    if "datasetId" in attr and (not isinstance(attr["datasetId"], str)
                                or not URI.match(attr["datasetId"])):  # fmt: skip
        raise BadAttribute(f"{name}: datasetId is a URI", field=name)
    for key, sub in attr.items():
        if key in PAYLOAD.values() or key in ("type", "observedAt", "createdAt", "modifiedAt",
                                              "unitCode", "datasetId", "instanceId",
                                              "objectType", "lang", "expiresAt", "valueType"):  # fmt: skip
            continue
        check(f"{name}.{key}", sub, top=False)


def normalize(attr: Any) -> Any:
    """An attribute given in the concise form (or as a bare value) in the normalized form: an
    ``object`` makes a Relationship, ``languageMap`` a LanguageProperty, ``json`` a
    JsonProperty, ``vocab`` a VocabProperty, ``valueList`` a ListProperty, ``objectList`` a
    ListRelationship, a GeoJSON geometry a GeoProperty, anything else a Property;
    sub-attributes the same way. A geometry written as a JSON string is read."""
    from citybase.perception.context.jsonld import ATTRIBUTE_KEYS

    if isinstance(attr, dict) and "type" in attr and not _geometry(attr):
        out = {k: (v if k in ATTRIBUTE_KEYS else normalize(v)) for k, v in attr.items()}
        if out.get("type") == "GeoProperty" and isinstance(out.get("value"), str):
            with contextlib.suppress(ValueError):
                out["value"] = json.loads(out["value"])
        return out
    if _geometry(attr):
        return {"type": "GeoProperty", "value": attr}
    if isinstance(attr, dict):
        for kind, member in PAYLOAD.items():
            if member in attr and kind not in ("Property", "GeoProperty"):
                return {"type": kind, **{k: (v if k in ATTRIBUTE_KEYS else normalize(v))
                                         for k, v in attr.items()}}  # fmt: skip
        if "value" in attr:
            kind = "GeoProperty" if _geometry(attr["value"]) else "Property"
            return {"type": kind, **{k: (v if k in ATTRIBUTE_KEYS else normalize(v))
                                     for k, v in attr.items()}}  # fmt: skip
        return {"type": "JsonProperty", "json": attr} if attr else {"type": "Property",
                                                                    "value": attr}  # fmt: skip
    return {"type": "Property", "value": attr}


def simplified(attr: dict[str, Any], lang: str | None = None) -> Any:
    """An attribute in the simplified (keyValues) form: a Property's value, a Relationship's
    object, the bare array of a list, and a one-member object for the others."""
    kind = attr.get("type")
    value = payload(attr)
    if kind == "LanguageProperty":
        if lang is not None:
            return pick_language(value, lang)
        return {"languageMap": value}
    if kind in ("JsonProperty", "VocabProperty"):
        return {PAYLOAD[kind]: value}
    if kind == "ListRelationship":
        return [v.get("object") if isinstance(v, dict) else v for v in value or []]
    return value


def pick_language(languages: Any, wanted: str) -> Any:
    """The string of a language map best matching ``lang`` (a tag, a list with q-values, or
    ``*``), as RFC 4647 lookup does; any if none matches."""
    if not isinstance(languages, dict) or not languages:
        return languages
    ranges: list[tuple[float, str]] = []
    for part in wanted.split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            ranges.append((float(q) if q else 1.0, tag.strip().lower()))
        except ValueError:
            ranges.append((0.0, tag.strip().lower()))
    lowered = {k.lower(): k for k in languages}
    for _, tag in sorted(ranges, key=lambda r: -r[0]):
        if tag == "*":
            break
        probe = tag
        while probe:
            if probe in lowered:
                return languages[lowered[probe]]
            for have, key in lowered.items():
                if have.startswith(probe + "-"):
                    return languages[key]
            probe = probe.rpartition("-")[0]
    return languages.get("@none", next(iter(languages.values())))


def language_of(languages: Any, wanted: str) -> str | None:
    """The tag ``pick_language`` chose."""
    chosen = pick_language(languages, wanted)
    if isinstance(languages, dict):
        for key, value in languages.items():
            if value is chosen:
                return str(key)
    return None


# --- several instances of one attribute (datasetId) ---------------------------------------------


def instances(attr: Any) -> list[dict[str, Any]]:
    """The instances of a stored attribute: one (a dict), or several (a list, each with its own
    datasetId, at most one — the default instance — without)."""
    if isinstance(attr, list):
        return [a for a in attr if isinstance(a, dict)]
    return [attr] if isinstance(attr, dict) else []


def pack(found: list[dict[str, Any]]) -> Any:
    return found[0] if len(found) == 1 else found


def default(attr: Any) -> Any:
    """The instance that answers for the attribute where only one can: the default instance,
    else the first."""
    if not isinstance(attr, list):
        return attr
    return next((a for a in attr if "datasetId" not in a), attr[0] if attr else None)


def put(old: Any, new: Any) -> Any:
    """The instances of ``old`` with those of ``new`` put in: each replaces the one of its
    datasetId, or joins them."""
    merged = instances(old)
    for instance in instances(new):
        dataset = instance.get("datasetId")
        merged = [a for a in merged if a.get("datasetId") != dataset] + [instance]
    return pack(merged)


def dataset_of(attr: Any) -> str | None:
    found = attr.get("datasetId") if isinstance(attr, dict) else None
    return str(found) if found is not None else None


def check_instances(name: str, given: list[Any]) -> list[dict[str, Any]]:
    """An attribute given as several instances: each checked, ``@none`` read as the default
    instance; two default instances or two of one datasetId refused."""
    if not given:
        raise BadAttribute(f"attribute {name}: an empty list of instances", field=name)
    out: list[dict[str, Any]] = []
    seen: set[str | None] = set()
    for raw in given:
        attr = normalize(raw)
        if isinstance(attr, dict) and attr.get("datasetId") == "@none":
            attr = {k: v for k, v in attr.items() if k != "datasetId"}
        check(name, attr)
        dataset = dataset_of(attr)
        if dataset in seen:
            raise BadAttribute(f"attribute {name}: two instances "
                               f"{'without datasetId' if dataset is None else 'of ' + dataset}",
                               field=name)  # fmt: skip
        seen.add(dataset)
        out.append(attr)
    return out


# --- when each attribute was created and last modified (NGSI-LD 4.8, 5.2.6) -----------------------

STAMPS = ("createdAt", "modifiedAt")
# the members of an attribute that are not sub-attributes (jsonld.ATTRIBUTE_KEYS, kept here
# so that this module needs no JSON-LD processor)
_MEMBERS = frozenset({"type", "value", "object", "observedAt", "createdAt", "modifiedAt",
                      "unitCode", "datasetId", "instanceId", "languageMap", "json", "vocab",
                      "valueList", "objectList", "objectType", "lang", "deletedAt", "expiresAt",
                      "valueType"})  # fmt: skip
# shown only when options=sysAttrs asks (6.3.11): the stamps, and when an attribute expires
SYSTEM = (*STAMPS, "expiresAt")


def _is_attribute(key: str, value: Any) -> bool:
    return isinstance(value, dict) and key not in _MEMBERS and value.get("type") in KINDS


def _stamp_one(given: dict[str, Any], old: Any, when: str) -> dict[str, Any]:
    """An instance (or sub-attribute) as written now: ``createdAt`` kept from the one it
    replaces, ``modifiedAt`` now; its sub-attributes alike, an unchanged one keeping both."""
    old = old if isinstance(old, dict) else None
    out = {k: v for k, v in given.items() if k not in STAMPS}
    for key, sub in out.items():
        if _is_attribute(key, sub):
            before = old.get(key) if old is not None else None
            if isinstance(before, dict) and unstamped(before) == unstamped(sub):
                out[key] = {**unstamped(sub), **{s: before[s] for s in STAMPS if s in before}}
            else:
                out[key] = _stamp_one(sub, before, when)
    out["createdAt"] = old.get("createdAt", when) if old is not None else when
    out["modifiedAt"] = when
    return out


def stamped(new: Any, old: Any, when: str) -> Any:
    """The attribute ``new`` as stored: each instance written now stamped (an instance of
    ``old`` carried over as it is keeps its stamps), matched with ``old`` by datasetId."""
    held = {dataset_of(a): a for a in instances(old)}
    out = []
    for instance in instances(new):
        before = held.get(dataset_of(instance))
        out.append(instance if instance is before else _stamp_one(instance, before, when))
    return pack(out) if out else new


def unstamped(attr: Any, hide: tuple[str, ...] = STAMPS) -> Any:
    """An attribute instance without the stamps of itself and of its sub-attributes (with
    ``hide`` the system members 6.3.11 shows only with ``options=sysAttrs``: ``expiresAt``
    too)."""
    if not isinstance(attr, dict):
        return attr
    return {k: (unstamped(v, hide) if _is_attribute(k, v) else v) for k, v in attr.items()
            if k not in hide}  # fmt: skip
