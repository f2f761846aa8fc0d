"""NGSI-LD subscriptions: kept in their creator's terms with the creator's contexts, checked as
the standard says, shown in any reader's terms, and compiled (names expanded, ``q`` parsed) to
be matched against changed entities by the notifier."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.db.engine import after_commit
from citybase.core.net import OutboundPolicy, check_endpoint
from citybase.perception.context import entity_types, jsonld
from citybase.perception.context import query as query_language
from citybase.perception.context.geo import parse_geo
from citybase.perception.context.models import ContextSubscription
from citybase.perception.context.service import (
    URI,
    AlreadyExists,
    BadRequestData,
    ResourceNotFound,
    stamp,
)

FORMATS = ("normalized", "keyValues", "simplified", "concise")
ACCEPTS = ("application/json", "application/ld+json")
WRITABLE = {"id", "type", "subscriptionName", "description", "entities", "watchedAttributes",
            "timeInterval", "q", "geoQ", "isActive", "notification", "expiresAt", "throttling",
            "lang", "notificationTrigger", "datasetId", "jsonldContext", "@context"}  # fmt: skip
# what may set a notification off; created and updated entities are not told apart (any write
# notifies a subscription that names either), deletions only those that name entityDeleted
TRIGGERS = ("entityCreated", "entityUpdated", "entityDeleted", "attributeCreated",
            "attributeUpdated", "attributeDeleted")  # fmt: skip
DEFAULT_TRIGGERS = frozenset(TRIGGERS) - {"entityDeleted"}
WRITES = frozenset(TRIGGERS) - {"entityDeleted"}
ENTITY_WRITES = frozenset({"entityCreated", "entityUpdated"})  # watched: any attribute touched


def _when(raw: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name} is an ISO 8601 date-time", field=name) from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} needs a time zone (Z or +08:00)", field=name)
    return moment.astimezone(UTC)


def _check(body: dict[str, Any], *, expiry_given: bool = True) -> None:
    """The subscription as the standard wants it, or the first thing wrong with it."""
    unknown = set(body) - WRITABLE
    if unknown:
        raise BadRequestData(f"unknown members: {', '.join(sorted(unknown))}",
                             field=sorted(unknown)[0])  # fmt: skip
    if body.get("type", "Subscription") != "Subscription":
        raise BadRequestData("type is Subscription", field="type")
    entities, watched = body.get("entities"), body.get("watchedAttributes")
    if not entities and not watched:
        raise BadRequestData("give entities, watchedAttributes or both", field="entities")
    if entities is not None:
        if not isinstance(entities, list) or not entities:
            raise BadRequestData("entities is a non-empty array", field="entities")
        for selector in entities:
            if not isinstance(selector, dict) or not isinstance(selector.get("type"), str):
                raise BadRequestData("each entity selector has a type", field="entities")
            if "id" in selector and not URI.match(str(selector["id"])):
                raise BadRequestData("an entity selector's id is a URI", field="entities")
            if "idPattern" in selector:
                try:
                    re.compile(str(selector["idPattern"]))
                except re.error:
                    raise BadRequestData("idPattern is a regular expression",
                                         field="entities") from None  # fmt: skip
    if watched is not None and (not isinstance(watched, list) or not watched or
                                not all(isinstance(w, str) and w for w in watched)):  # fmt: skip
        raise BadRequestData("watchedAttributes is a non-empty array of names",
                             field="watchedAttributes")  # fmt: skip
    for name in ("timeInterval", "throttling"):
        if name in body and (isinstance(body[name], bool) or
                             not isinstance(body[name], int | float) or body[name] <= 0):  # fmt: skip
            raise BadRequestData(f"{name} is a number of seconds above zero", field=name)
    if "timeInterval" in body and watched:
        raise BadRequestData("timeInterval and watchedAttributes do not go together",
                             field="timeInterval")  # fmt: skip
    if "timeInterval" in body and "throttling" in body:
        raise BadRequestData("timeInterval and throttling do not go together", field="throttling")
    if "q" in body:
        if not isinstance(body["q"], str):
            raise BadRequestData("q is a string", field="q")
        query_language.parse(body["q"])
    if "geoQ" in body:
        geo = body["geoQ"]
        if not isinstance(geo, dict):
            raise BadRequestData("geoQ is an object", field="geoQ")
        coordinates = geo.get("coordinates")
        parse_geo(str(geo.get("georel", "")), str(geo.get("geometry", "")),
                  coordinates if isinstance(coordinates, str) else _json(coordinates))  # fmt: skip
    if "notificationTrigger" in body:
        triggers = body["notificationTrigger"]
        if not isinstance(triggers, list) or not triggers or \
                any(t not in TRIGGERS for t in triggers):  # fmt: skip
            raise BadRequestData(f"notificationTrigger is a non-empty array of {', '.join(TRIGGERS)}",
                                 field="notificationTrigger")  # fmt: skip
        if "timeInterval" in body:
            raise BadRequestData("timeInterval and notificationTrigger do not go together",
                                 field="notificationTrigger")  # fmt: skip
    if "datasetId" in body:
        given = body["datasetId"]
        items = given if isinstance(given, list) else [given]
        if not items or not all(isinstance(d, str) and (d == "@none" or URI.match(d))
                                for d in items):  # fmt: skip
            raise BadRequestData("datasetId is a URI or an array of them (@none: the default "
                                 "instance)", field="datasetId")  # fmt: skip
    if "jsonldContext" in body and (not isinstance(body["jsonldContext"], str) or
                                    not URI.match(body["jsonldContext"])):  # fmt: skip
        raise BadRequestData("jsonldContext is the URI of a context", field="jsonldContext")
    if "isActive" in body and not isinstance(body["isActive"], bool):
        raise BadRequestData("isActive is true or false", field="isActive")
    if "expiresAt" in body and _when(body["expiresAt"], "expiresAt") <= datetime.now(UTC) and \
            expiry_given:  # fmt: skip
        raise BadRequestData("expiresAt is in the past", field="expiresAt")
    _check_notification(body.get("notification"))


def _json(value: Any) -> str:
    return json.dumps(value)


def _check_notification(notification: Any) -> None:
    if not isinstance(notification, dict):
        raise BadRequestData("notification is needed, with an endpoint", field="notification")
    endpoint = notification.get("endpoint")
    if not isinstance(endpoint, dict) or not isinstance(endpoint.get("uri"), str):
        raise BadRequestData("notification.endpoint.uri is needed", field="notification")
    uri = endpoint["uri"]
    if not re.match(r"^(https?|mqtts?)://[^/\s]+", uri):
        raise BadRequestData("notification.endpoint.uri is http(s):// or mqtt(s)://",
                             field="notification")  # fmt: skip
    if uri.startswith("mqtt") and len(uri.split("/", 3)) < 4:
        raise BadRequestData("notification.endpoint.uri: an MQTT endpoint names its topic (mqtt://host:1883/topic)",
                             field="notification")  # fmt: skip
    if endpoint.get("accept", "application/json") not in ACCEPTS:
        raise BadRequestData("notification.endpoint.accept is application/json or application/ld+json",
                             field="notification")  # fmt: skip
    for name in ("receiverInfo", "notifierInfo"):
        items = endpoint.get(name, [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict)
            and isinstance(i.get("key"), str)
            and isinstance(i.get("value"), str)
            for i in items
        ):
            raise BadRequestData(f"notification.endpoint.{name} is an array of key/value pairs",
                                 field="notification")  # fmt: skip
    if notification.get("format", "normalized") not in FORMATS:
        raise BadRequestData("notification.format is normalized, keyValues (simplified) or concise",
                             field="notification")  # fmt: skip
    for member in ("attributes", "pick", "omit"):
        names = notification.get(member)
        if names is not None and (not isinstance(names, list) or not names or
                                  not all(isinstance(a, str) and a for a in names)):  # fmt: skip
            raise BadRequestData(f"notification.{member} is a non-empty array of names",
                                 field="notification")  # fmt: skip
    if set(notification.get("pick") or []) & set(notification.get("omit") or []):
        raise BadRequestData("a member is both picked and omitted", field="notification")
    if notification.get("showChanges") and notification.get("format") in ("keyValues",
                                                                          "simplified"):  # fmt: skip
        raise BadRequestData("showChanges needs the normalized or concise format",
                             field="notification")  # fmt: skip


def _changed(session: Session) -> None:
    from citybase.perception.context import notify

    after_commit(session, notify.subscriptions_changed)


def allowed(uri: str, hosts: str) -> bool:
    """Whether a notification endpoint's host is among those allowed (none listed: any)."""
    listed = [h.strip().lower() for h in hosts.split(",") if h.strip()]
    host = (urlparse(uri).hostname or "").lower()
    return not listed or any(host == h or (h.startswith(".") and host.endswith(h))
                             for h in listed)  # fmt: skip


PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}


def _check_host(body: dict[str, Any], hosts: str, outbound: OutboundPolicy) -> None:
    """The endpoint's host is among those listed (if any are), and it is not on the
    platform's own network unless the operator allows it (``web.outbound_allow``)."""
    uri = str(((body.get("notification") or {}).get("endpoint") or {}).get("uri", ""))
    if not allowed(uri, hosts):
        raise BadRequestData("notification.endpoint.uri: this host may not be notified here "
                             "(perception.notification_hosts)", field="notification")  # fmt: skip
    check_endpoint(uri, outbound, PORTS.get(urlparse(uri).scheme, 80))


def create(session: Session, body: Any, context: list[Any], owner: str = "",
           hosts: str = "", *, unit: str = "",
           outbound: OutboundPolicy = OutboundPolicy()) -> str:  # fmt: skip
    """A new subscription, made by the user ``owner`` for ``unit`` (its owning unit)."""
    if not isinstance(body, dict):
        raise BadRequestData("a subscription is a JSON object")
    _check(body)
    _check_host(body, hosts, outbound)
    sub_id = body.get("id") or f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"
    if not isinstance(sub_id, str) or not URI.match(sub_id):
        raise BadRequestData("id is a URI", field="id")
    if session.get(ContextSubscription, sub_id) is not None:
        raise AlreadyExists(f"subscription {sub_id} exists", field="id")
    _compile_or_refuse(body, context)
    kept = {k: v for k, v in body.items() if k not in ("id", "@context")}
    kept["type"] = "Subscription"
    now = datetime.now(UTC)
    session.add(ContextSubscription(
        id=sub_id, body=kept, context=context, owner=owner, unit=unit,
        active=body.get("isActive", True),
        expires_at=_when(body["expiresAt"], "expiresAt") if "expiresAt" in body else None,
        created_at=now, modified_at=now,
    ))  # fmt: skip
    session.flush()
    _changed(session)
    return sub_id


def _get(session: Session, sub_id: str, unit: str | None = None) -> ContextSubscription:
    """A subscription, to its owning unit (``unit``; None: the platform's administrators, any):
    another unit's is not found."""
    if not URI.match(sub_id):
        raise BadRequestData("a subscription id is a URI", field="id")
    found = session.get(ContextSubscription, sub_id)
    if found is None or (unit is not None and found.unit != unit):
        raise ResourceNotFound(f"no subscription {sub_id}", field="id")
    return found


def update(session: Session, sub_id: str, body: Any, context: list[Any], hosts: str = "", *,
           unit: str | None = None, outbound: OutboundPolicy = OutboundPolicy()) -> None:  # fmt: skip
    """Change the members given; the others stay (names given in this request's terms are
    kept in the subscription's own by going through their IRIs)."""
    found = _get(session, sub_id, unit)
    if not isinstance(body, dict) or not body:
        raise BadRequestData("the members to change come as a JSON object")
    if "id" in body and body["id"] != sub_id:
        raise BadRequestData("the id cannot change", field="id")
    incoming = {k: v for k, v in body.items() if k not in ("id", "@context")}
    if context != found.context:
        incoming = _in_terms_of(incoming, context, found.context)
    merged = {**found.body, **incoming}
    if "notification" in incoming and isinstance(found.body.get("notification"), dict) and \
            isinstance(incoming["notification"], dict):  # fmt: skip
        merged["notification"] = {**found.body["notification"], **incoming["notification"]}
    _check(merged, expiry_given="expiresAt" in body)
    _check_host(merged, hosts, outbound)
    _compile_or_refuse(merged, found.context)
    found.body = merged
    found.active = merged.get("isActive", True)
    found.expires_at = _when(merged["expiresAt"], "expiresAt") if "expiresAt" in merged else None
    found.modified_at = datetime.now(UTC)
    session.flush()
    _changed(session)


def _in_terms_of(body: dict[str, Any], given: list[Any], own: list[Any]) -> dict[str, Any]:
    """The names in a subscription's members moved from one context's terms to another's."""
    names, types = _names(body)
    name_iris, type_iris = jsonld.expand_names(given, names, types)
    back_names, back_types = jsonld.compact_names(own, set(name_iris.values()),
                                                  set(type_iris.values()))  # fmt: skip
    rename = {n: back_names.get(i, i) for n, i in name_iris.items()}
    retype = {t: back_types.get(i, i) for t, i in type_iris.items()}
    return _renamed(body, rename, retype)


def _names(body: dict[str, Any]) -> tuple[set[str], set[str]]:
    names = set(body.get("watchedAttributes") or [])
    notification = body.get("notification")
    if isinstance(notification, dict):
        names |= set(notification.get("attributes") or [])
    types = {name for e in body.get("entities") or [] if isinstance(e, dict) and "type" in e
             for name in _type_names(e["type"])}  # fmt: skip
    return names, types


def _type_names(selection: str) -> list[str]:
    """The type names of an entity selector's ``type``: a name, or a selection of any of
    several (§4.17: ``A,B``, ``A|B``, ``(A|B)``); one that asks for all of several (``A;B``)
    is refused — a subscription's entities are matched by any one of their types."""
    node = entity_types.parse(selection)
    if not isinstance(node, str) and (node.kind != "or" or
                                      not all(isinstance(p, str) for p in node.parts)):  # fmt: skip
        raise BadRequestData(f"type {selection!r}: a subscription selects entities of any of "
                             "several types (, or |), not of all of them (;)", field="entities")  # fmt: skip
    return sorted(entity_types.names(node))


def _renamed(body: dict[str, Any], names: dict[str, str], types: dict[str, str]) -> dict[str, Any]:
    out = dict(body)
    if "watchedAttributes" in out:
        out["watchedAttributes"] = [names.get(n, n) for n in out["watchedAttributes"]]
    if isinstance(out.get("notification"), dict) and "attributes" in out["notification"]:
        out["notification"] = {**out["notification"], "attributes": [
            names.get(n, n) for n in out["notification"]["attributes"]]}  # fmt: skip
    if "entities" in out:
        out["entities"] = [{**e, "type": types.get(e["type"], e["type"])}
                           if e["type"] in types else e for e in out["entities"]]  # fmt: skip
    return out


def delete(session: Session, sub_id: str, *, unit: str | None = None) -> None:
    session.delete(_get(session, sub_id, unit))
    session.flush()
    _changed(session)


def _stamp(moment: datetime | None) -> str | None:
    return stamp(moment) if moment is not None else None


def status(row: ContextSubscription, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    expires = row.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires is not None and expires <= now:
        return "expired"
    return "active" if row.active else "paused"


def render(row: ContextSubscription, context: list[Any], *, sys_attrs: bool = False) -> dict[str, Any]:  # fmt: skip
    """The subscription in the reader's terms, with its status and how its notifications went."""
    body = dict(row.body)
    if context != row.context:
        body = _in_terms_of(body, row.context, context)
    out: dict[str, Any] = {"id": row.id, "type": "Subscription", **body}
    if "isActive" in body:
        out["isActive"] = row.active
    out["status"] = status(row)
    notification = dict(out.get("notification") or {})
    notification["timesSent"] = row.times_sent
    notification["timesFailed"] = row.times_failed
    for key, moment in (("lastNotification", row.last_notification),
                        ("lastSuccess", row.last_success), ("lastFailure", row.last_failure)):  # fmt: skip
        if moment is not None:
            notification[key] = _stamp(moment)
    if row.times_sent:
        last_ok = row.last_failure is None or (row.last_success is not None and
                                                row.last_success >= row.last_failure)  # fmt: skip
        notification["status"] = "ok" if last_ok else "failed"
    out["notification"] = notification
    if sys_attrs:
        out["createdAt"] = _stamp(row.created_at)
        out["modifiedAt"] = _stamp(row.modified_at)
    return out


def retrieve(session: Session, sub_id: str, context: list[Any], *,
             unit: str | None = None) -> dict[str, Any]:  # fmt: skip
    return render(_get(session, sub_id, unit), context)


def listing(session: Session, context: list[Any], *, limit: int = 20, offset: int = 0,
            unit: str | None = None) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """The subscriptions of ``unit`` (None: all of them)."""
    own = [] if unit is None else [ContextSubscription.unit == unit]
    total = session.scalar(select(func.count()).select_from(ContextSubscription).where(*own)) or 0
    rows = session.scalars(select(ContextSubscription).where(*own)
                           .order_by(ContextSubscription.created_at, ContextSubscription.id)
                           .limit(limit).offset(offset))  # fmt: skip
    return [render(r, context) for r in rows], total


# --- compiled for matching -----------------------------------------------------------------------


@dataclass
class Compiled:
    """A subscription ready to be matched: names as IRIs, q parsed, the geo-query's shape."""

    id: str
    context: list[Any]
    selectors: list[tuple[str, str | None, re.Pattern[str] | None]]
    watched: set[str] | None
    q: query_language.Node | None
    geo: tuple[str, str, float | None, float | None, Any] | None
    attributes: set[str] | None
    form: str
    sys_attrs: bool
    endpoint: dict[str, Any]
    throttling: float
    time_interval: float
    expires_at: datetime | None
    active: bool
    unit: str = ""  # the owning unit: the subscription hears of what it may read
    last_sent: float = 0.0
    pending: list[str] = field(default_factory=list)
    triggers: frozenset[str] = DEFAULT_TRIGGERS
    # attributeDeleted named in notificationTrigger: told of a deleted entity's attributes too
    # (not by the default triggers, which leave deletions of entities out)
    attribute_deletions: bool = False
    show_changes: bool = False  # each changed attribute with its former value
    pick: frozenset[str] | None = None  # members of each entity notified, in its own terms
    omit: frozenset[str] = frozenset()
    datasets: frozenset[str] | None = None  # only these instances (@none: the default)
    notify_context: list[Any] | None = None  # jsonldContext: the terms notifications use

    def live(self, now: datetime) -> bool:
        return self.active and (self.expires_at is None or self.expires_at > now)

    def wants(
        self, entity_id: str, entity_type: str | Set[str], changed: Set[str],
        deleted: bool = False,
        events: Mapping[str, frozenset[str]] | None = None,
    ) -> bool:  # fmt: skip
        """Whether a change to these attributes of this entity (or its deletion) concerns the
        subscription (before its q and geo-query are tried on the entity): one of its triggers
        happened (``events``: trigger → attributes, as the notifier tells them; without them,
        any write), to an attribute it watches where it watches some."""
        held = {entity_type} if isinstance(entity_type, str) else entity_type
        if self.selectors and not any(
            kind in held and (one is None or one == entity_id) and
            (pattern is None or pattern.search(entity_id) is not None)
            for kind, one, pattern in self.selectors
        ):  # fmt: skip
            return False
        if deleted:  # of its attributes, deleted with it, those it watches
            gone = (events or {}).get("attributeDeleted", frozenset())
            return "entityDeleted" in self.triggers or (
                self.attribute_deletions and bool(gone)
                and (self.watched is None or bool(self.watched & gone)))  # fmt: skip
        if events is None:
            events = dict.fromkeys(WRITES, frozenset(changed))
        for trigger in self.triggers & events.keys():
            touched = changed if trigger in ENTITY_WRITES else events[trigger]
            if self.watched is None or self.watched & touched:
                return True
        return False


def compile_row(row: ContextSubscription) -> Compiled:
    body, context = row.body, row.context
    names, types = _names(body)
    geo_q = body.get("geoQ")
    if isinstance(geo_q, dict):
        names.add(str(geo_q.get("geoproperty", "location")))
    iris, type_iris = jsonld.expand_names(context, names, types)
    q = None
    if body.get("q"):  # written as in a URL (percent-encoded) or not: read as from one
        node = query_language.parse(unquote(str(body["q"])))
        q = query_language.expanded(
            node, jsonld.expand_names(context, query_language.names(node), set())[0]
        )
    geo = None
    if isinstance(geo_q, dict):
        coordinates = geo_q.get("coordinates")
        relation, low, high, shape_ = parse_geo(
            str(geo_q.get("georel")), str(geo_q.get("geometry")),
            coordinates if isinstance(coordinates, str) else _json(coordinates),
        )  # fmt: skip
        geo = (iris[str(geo_q.get("geoproperty", "location"))], relation, low, high, shape_)
    notification = body.get("notification") or {}
    datasets = body.get("datasetId")
    notify_context = None
    if body.get("jsonldContext"):
        notify_context = jsonld.context_of(str(body["jsonldContext"]))
        jsonld.expand_names(notify_context, set(), set())  # known here, or refused now
    expires = row.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return Compiled(
        id=row.id, context=context,
        selectors=[(type_iris[name], e.get("id"),
                    re.compile(e["idPattern"]) if e.get("idPattern") else None)
                   for e in body.get("entities") or [] for name in _type_names(e["type"])],
        watched={iris[w] for w in body["watchedAttributes"]}
        if body.get("watchedAttributes") else None,
        q=q, geo=geo,
        attributes={iris[a] for a in notification["attributes"]}
        if notification.get("attributes") else None,
        form="keyValues" if notification.get("format") == "simplified" else
        notification.get("format", "normalized"),
        sys_attrs=bool(notification.get("sysAttrs", False)),
        endpoint=dict(notification.get("endpoint") or {}),
        throttling=float(body.get("throttling") or 0),
        time_interval=float(body.get("timeInterval") or 0),
        expires_at=expires, active=row.active, unit=row.unit or "",
        last_sent=row.last_notification.timestamp() if row.last_notification else 0.0,
        triggers=frozenset(body.get("notificationTrigger") or DEFAULT_TRIGGERS),
        attribute_deletions="attributeDeleted" in (body.get("notificationTrigger") or ()),
        show_changes=bool(notification.get("showChanges", False)),
        pick=frozenset(notification["pick"]) if notification.get("pick") else None,
        omit=frozenset(notification.get("omit") or ()),
        datasets=frozenset(datasets if isinstance(datasets, list) else [datasets])
        if datasets is not None else None,
        notify_context=notify_context,
    )  # fmt: skip


def _compile_or_refuse(body: dict[str, Any], context: list[Any]) -> None:
    """Compile once at the door, so that a subscription that cannot be matched is refused now
    (an unknown context, say) rather than failing later in the notifier."""
    compile_row(ContextSubscription(id="urn:x", body=body, context=context, active=True))
