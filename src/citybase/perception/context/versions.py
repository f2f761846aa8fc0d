"""The version preference (ETSI GS CIM 009, 4.3.6.8 and 6.3.6): a client that reads only an
earlier edition of NGSI-LD says so with ``Prefer: ngsi-ld=<major.minor>`` (IETF RFC 7240); the
answer names the version in ``Preference-Applied`` and, where it had to amend Entity data for
it (each newer kind of attribute reformatted as a Property), is a 203."""

from __future__ import annotations

import re
from typing import Any

from citybase.perception.context.attributes import PAYLOAD

VERSION = re.compile(r"^(\d{1,2})\.(\d{1,2})$")
# each kind of attribute newer than the first editions, and the edition that brought it: an
# earlier reader gets it as a Property whose value is what the kind carries (Table 4.3.6.8-2)
SINCE = {"LanguageProperty": (1, 4), "JsonProperty": (1, 8), "VocabProperty": (1, 8),
         "ListProperty": (1, 8), "ListRelationship": (1, 8)}  # fmt: skip


def preferred(header: str | None) -> str | None:
    """The version named by the ``ngsi-ld`` preference of a Prefer header, read as RFC 7240
    reads it: a comma-separated list, names in any case, a token or a quoted value, the
    preference's own parameters after ``;``. None when there is none, or not a version."""
    if not header:
        return None
    for item in header.split(","):
        head = item.split(";", 1)[0]
        name, sep, value = head.partition("=")
        if not sep or name.strip().lower() != "ngsi-ld":
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if VERSION.match(value):
            return value
    return None


def amend(body: Any, version: str) -> tuple[Any, bool]:
    """Entity data (one entity or a list, in the normalized form) as a reader of ``version``
    can take it, and whether anything was changed."""
    found = VERSION.match(version)
    if found is None:
        return body, False
    wanted = (int(found.group(1)), int(found.group(2)))
    changed = False

    def attribute(attr: Any) -> Any:
        nonlocal changed
        if isinstance(attr, list):
            return [attribute(a) for a in attr]
        if not isinstance(attr, dict):
            return attr
        out = {k: (attribute(v) if isinstance(v, dict) and "type" in v else v)
               for k, v in attr.items()}  # fmt: skip
        kind = out.get("type")
        if isinstance(kind, str) and kind in SINCE and wanted < SINCE[kind]:
            member = PAYLOAD[kind]
            out = {"type": "Property", "value": out.get(member),
                   **{k: v for k, v in out.items() if k not in ("type", member)}}  # fmt: skip
            changed = True
        return out

    def entity(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        return {k: (v if k in ("id", "type", "@context", "scope") else attribute(v))
                for k, v in item.items()}  # fmt: skip

    amended = [entity(e) for e in body] if isinstance(body, list) else entity(body)
    return amended, changed
