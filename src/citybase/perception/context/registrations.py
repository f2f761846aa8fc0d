"""NGSI-LD context source registrations (ETSI GS CIM 009, 5.2.9 and 5.9): what another broker
(a district's) holds and where to ask for it. Kept in their creator's terms with the creator's
contexts like subscriptions, checked as the standard says, shown in any reader's terms, and
compiled (names expanded) for the distributed operations of ``federation``."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.net import OutboundPolicy, check_endpoint
from citybase.perception.context import jsonld
from citybase.perception.context.models import ContextSourceRegistration
from citybase.perception.context.service import (
    URI,
    AlreadyExists,
    BadRequestData,
    ResourceNotFound,
    stamp,
)

TYPE = "ContextSourceRegistration"
MODES = ("inclusive", "exclusive", "redirect", "auxiliary")
# the operations a source may be asked (GS CIM 009, 4.20) and their groups
RETRIEVE_OPS = ("retrieveEntity", "queryEntity")
FEDERATION_OPS = (*RETRIEVE_OPS, "queryBatch", "retrieveTemporal", "queryTemporal",
                  "retrieveEntityTypes", "retrieveEntityTypeDetails", "retrieveEntityTypeInfo",
                  "retrieveAttrTypes", "retrieveAttrTypeDetails", "retrieveAttrTypeInfo",
                  "createSubscription", "updateSubscription", "retrieveSubscription",
                  "querySubscription", "deleteSubscription")  # fmt: skip
UPDATE_OPS = ("updateEntity", "updateAttrs", "replaceEntity", "replaceAttrs")
WRITE_OPS = ("createEntity", *UPDATE_OPS, "appendAttrs", "deleteAttrs", "deleteEntity",
             "mergeEntity", "createBatch", "upsertBatch", "updateBatch", "deleteBatch",
             "mergeBatch", "upsertTemporal", "appendAttrsTemporal", "deleteAttrsTemporal",
             "updateAttrsTemporal", "deleteAttrInstanceTemporal", "deleteTemporal")  # fmt: skip
REDIRECTION_OPS = ("createEntity", *UPDATE_OPS, "appendAttrs", "deleteAttrs", "deleteEntity",
                   "mergeEntity", *RETRIEVE_OPS, "retrieveEntityTypes",
                   "retrieveEntityTypeDetails", "retrieveEntityTypeInfo", "retrieveAttrTypes",
                   "retrieveAttrTypeDetails", "retrieveAttrTypeInfo")  # fmt: skip
GROUPS: dict[str, tuple[str, ...]] = {
    "federationOps": FEDERATION_OPS,
    "updateOps": UPDATE_OPS,
    "retrieveOps": RETRIEVE_OPS,
    "redirectionOps": REDIRECTION_OPS,
}
OPERATIONS = frozenset(FEDERATION_OPS) | frozenset(WRITE_OPS) | frozenset(REDIRECTION_OPS)
MANAGEMENT = {"localOnly", "cacheDuration", "timeout", "cooldown"}
READ_ONLY = {"createdAt", "modifiedAt", "status", "timesSent", "timesFailed", "lastSuccess",
             "lastFailure"}  # fmt: skip
# contextSourceInfo keys whose values are credentials: kept and sent, never shown
SECRET = re.compile(r"authorization|key|token|secret|password", re.IGNORECASE)


def _when(raw: Any, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise BadRequestData(f"{name} is an ISO 8601 date-time", field=name) from None
    if moment.tzinfo is None:
        raise BadRequestData(f"{name} needs a time zone (Z or +08:00)", field=name)
    return moment.astimezone(UTC)


def _names_list(value: Any, name: str) -> None:
    if not isinstance(value, list) or not value or \
            not all(isinstance(n, str) and n for n in value):  # fmt: skip
        raise BadRequestData(f"{name} is a non-empty array of attribute names", field="information")


def _check_info(info: Any, mode: str) -> None:
    if not isinstance(info, dict):
        raise BadRequestData("each item of information is an object", field="information")
    unknown = set(info) - {"entities", "propertyNames", "relationshipNames"}
    if unknown:
        raise BadRequestData(f"information: unknown members {', '.join(sorted(unknown))}",
                             field="information")  # fmt: skip
    if not info:
        raise BadRequestData("each item of information names entities, propertyNames or "
                             "relationshipNames", field="information")  # fmt: skip
    for name in ("propertyNames", "relationshipNames"):
        if name in info:
            _names_list(info[name], name)
    entities = info.get("entities")
    if entities is not None:
        if not isinstance(entities, list) or not entities:
            raise BadRequestData("information.entities is a non-empty array", field="information")
        for selector in entities:
            _check_selector(selector)
    if mode == "exclusive":  # 5.2.9: one entity, and the attributes the source alone holds
        if not entities or any("id" not in s for s in entities):
            raise BadRequestData("information: an exclusive registration names each entity by its id",
                                 field="information")  # fmt: skip
        if not (info.get("propertyNames") or info.get("relationshipNames")):
            raise BadRequestData("information: an exclusive registration names the attributes it holds",
                                 field="information")  # fmt: skip


def _check_selector(selector: Any) -> None:
    if not isinstance(selector, dict):
        raise BadRequestData("each entity of information is an object", field="information")
    unknown = set(selector) - {"id", "idPattern", "type"}
    if unknown:
        raise BadRequestData(f"information.entities: unknown members {', '.join(sorted(unknown))}",
                             field="information")  # fmt: skip
    kinds = selector.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if not kinds or not all(isinstance(k, str) and k for k in kinds):
        raise BadRequestData("each entity of information has a type", field="information")
    if "id" in selector and "idPattern" in selector:
        raise BadRequestData("an entity of information has an id or an idPattern, not both",
                             field="information")  # fmt: skip
    if "id" in selector and not (isinstance(selector["id"], str) and URI.match(selector["id"])):
        raise BadRequestData("an entity's id in information is a URI", field="information")
    if "idPattern" in selector:
        try:
            re.compile(str(selector["idPattern"]))
        except re.error:
            raise BadRequestData("information.entities: idPattern is a regular expression",
                                 field="information") from None  # fmt: skip


def _check(body: dict[str, Any], *, expiry_given: bool = True) -> None:
    """The registration as the standard wants it, or the first thing wrong with it."""
    if body.get("type") != TYPE:
        raise BadRequestData(f"type is {TYPE}", field="type")
    for name in ("registrationName", "description", "tenant"):
        if name in body and not isinstance(body[name], str):
            raise BadRequestData(f"{name} is a string", field=name)
    mode = body.get("mode", "inclusive")
    if mode not in MODES:
        raise BadRequestData(f"mode is one of {', '.join(MODES)}", field="mode")
    information = body.get("information")
    if not isinstance(information, list) or not information:
        raise BadRequestData("information is a non-empty array", field="information")
    for info in information:
        _check_info(info, mode)
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not re.match(r"^https?://[^/\s?#]+", endpoint):
        raise BadRequestData("endpoint is the http(s):// address of the context source",
                             field="endpoint")  # fmt: skip
    operations = body.get("operations")
    if operations is not None:
        if not isinstance(operations, list) or not operations or \
                not all(isinstance(o, str) for o in operations):  # fmt: skip
            raise BadRequestData("operations is a non-empty array of operation names",
                                 field="operations")  # fmt: skip
        unknown_ops = [o for o in operations if o not in OPERATIONS and o not in GROUPS]
        if unknown_ops:
            raise BadRequestData(f"operations: {unknown_ops[0]} is no operation or group of "
                                 "operations", field="operations")  # fmt: skip
    management = body.get("management")
    if management is not None:
        if not isinstance(management, dict):
            raise BadRequestData("management is an object", field="management")
        unknown = set(management) - MANAGEMENT
        if unknown:
            raise BadRequestData(f"management: unknown members {', '.join(sorted(unknown))}",
                                 field="management")  # fmt: skip
        if "localOnly" in management and not isinstance(management["localOnly"], bool):
            raise BadRequestData("management.localOnly is true or false", field="management")
        for name in ("timeout", "cacheDuration", "cooldown"):
            value = management.get(name)
            if name in management and (isinstance(value, bool) or
                                       not isinstance(value, int | float) or value < 0 or
                                       (name == "timeout" and value == 0)):  # fmt: skip
                raise BadRequestData(f"management.{name} is a number of milliseconds"
                                     f"{' above zero' if name == 'timeout' else ''}",
                                     field="management")  # fmt: skip
    info = body.get("contextSourceInfo")
    if info is not None and (not isinstance(info, list) or not all(
            isinstance(i, dict) and set(i) == {"key", "value"} and isinstance(i["key"], str)
            and i["key"] and isinstance(i["value"], str) for i in info)):  # fmt: skip
        raise BadRequestData("contextSourceInfo is an array of {key, value} pairs of strings",
                             field="contextSourceInfo")  # fmt: skip
    if "expiresAt" in body and _when(body["expiresAt"], "expiresAt") <= datetime.now(UTC) and \
            expiry_given:  # fmt: skip
        raise BadRequestData("expiresAt is in the past", field="expiresAt")


def _check_endpoint(body: dict[str, Any], outbound: OutboundPolicy) -> None:
    """The source is on the public internet unless the operator allows its network
    (``web.outbound_allow``): judged now, and again on every call."""
    try:
        check_endpoint(str(body["endpoint"]), outbound)
    except BadRequestData:
        raise
    except Exception as exc:  # OutboundRefused: the same refusal in the broker's own format
        raise BadRequestData(f"endpoint: {getattr(exc, 'message', exc)}",
                             field="endpoint") from None  # fmt: skip


def _in_terms_of(body: dict[str, Any], given: list[Any], own: list[Any]) -> dict[str, Any]:
    """The type and attribute names of ``information`` moved from one context's terms to
    another's, through their IRIs."""
    if not isinstance(body.get("information"), list):
        return body
    names, types = _names(body)
    name_iris, type_iris = jsonld.expand_names(given, names, types)
    back_names, back_types = jsonld.compact_names(own, set(name_iris.values()),
                                                  set(type_iris.values()))  # fmt: skip
    rename = {n: back_names.get(i, i) for n, i in name_iris.items()}
    retype = {t: back_types.get(i, i) for t, i in type_iris.items()}

    def selector(e: dict[str, Any]) -> dict[str, Any]:
        kinds = e.get("type")
        moved = [retype.get(k, k) for k in kinds] if isinstance(kinds, list) \
            else retype.get(str(kinds), kinds)  # fmt: skip
        return {**e, "type": moved}

    information = []
    for info in body["information"]:
        item = dict(info)
        if "entities" in item:
            item["entities"] = [selector(e) for e in item["entities"]]
        for key in ("propertyNames", "relationshipNames"):
            if key in item:
                item[key] = [rename.get(n, n) for n in item[key]]
        information.append(item)
    return {**body, "information": information}


def _names(body: dict[str, Any]) -> tuple[set[str], set[str]]:
    names: set[str] = set()
    types: set[str] = set()
    for info in body.get("information") or []:
        names |= set(info.get("propertyNames") or []) | set(info.get("relationshipNames") or [])
        for e in info.get("entities") or []:
            kinds = e.get("type")
            types |= set(kinds) if isinstance(kinds, list) else {kinds}
    return names, types


def create(session: Session, body: Any, context: list[Any], *, owner: str = "", unit: str = "",
           outbound: OutboundPolicy = OutboundPolicy()) -> str:  # fmt: skip
    """A new registration, made by the user ``owner`` for ``unit`` (its owning unit)."""
    if not isinstance(body, dict):
        raise BadRequestData("a context source registration is a JSON object")
    _check(body)
    reg_id = body.get("id") or f"urn:ngsi-ld:ContextSourceRegistration:{uuid.uuid4()}"
    if not isinstance(reg_id, str) or not URI.match(reg_id):
        raise BadRequestData("id is a URI", field="id")
    if session.get(ContextSourceRegistration, reg_id) is not None:
        raise AlreadyExists(f"registration {reg_id} exists", field="id")
    compile_body(reg_id, body, context, unit)  # an unknown context is refused now
    _check_endpoint(body, outbound)
    kept = {k: v for k, v in body.items() if k not in ("id", "@context", *READ_ONLY)}
    now = datetime.now(UTC)
    session.add(ContextSourceRegistration(
        id=reg_id, body=kept, context=context, owner=owner, unit=unit,
        expires_at=_when(body["expiresAt"], "expiresAt") if "expiresAt" in body else None,
        created_at=now, modified_at=now,
    ))  # fmt: skip
    session.flush()
    return reg_id


def _get(session: Session, reg_id: str, unit: str | None = None) -> ContextSourceRegistration:
    """A registration, to its owning unit (``unit``; None: the platform's administrators, any):
    another unit's is not found."""
    if not URI.match(reg_id):
        raise BadRequestData("a registration id is a URI", field="id")
    found = session.get(ContextSourceRegistration, reg_id)
    if found is None or (unit is not None and found.unit != unit):
        raise ResourceNotFound(f"no context source registration {reg_id}", field="id")
    return found


def update(session: Session, reg_id: str, body: Any, context: list[Any], *,
           unit: str | None = None, outbound: OutboundPolicy = OutboundPolicy()) -> None:  # fmt: skip
    """Change the members given (5.9.3); the others stay, ``management`` merged member by
    member. Names given in this request's terms are kept in the registration's own."""
    found = _get(session, reg_id, unit)
    if not isinstance(body, dict) or not body:
        raise BadRequestData("the members to change come as a JSON object")
    if "id" in body and body["id"] != reg_id:
        raise BadRequestData("the id cannot change", field="id")
    incoming = {k: v for k, v in body.items() if k not in ("id", "@context", *READ_ONLY)}
    if context != found.context:
        incoming = _in_terms_of(incoming, context, found.context)
    merged = {**found.body, **incoming}
    if isinstance(found.body.get("management"), dict) and isinstance(incoming.get("management"),
                                                                     dict):  # fmt: skip
        merged["management"] = {**found.body["management"], **incoming["management"]}
    _check(merged, expiry_given="expiresAt" in body)
    compile_body(reg_id, merged, found.context, found.unit)
    if "endpoint" in incoming:
        _check_endpoint(merged, outbound)
    found.body = merged
    found.expires_at = _when(merged["expiresAt"], "expiresAt") if "expiresAt" in merged else None
    found.modified_at = datetime.now(UTC)
    session.flush()


def delete(session: Session, reg_id: str, *, unit: str | None = None) -> None:
    session.delete(_get(session, reg_id, unit))
    session.flush()


def _expired(row: ContextSourceRegistration, now: datetime) -> bool:
    expires = row.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return expires is not None and expires <= now


def render(row: ContextSourceRegistration, context: list[Any], *,
           sys_attrs: bool = False) -> dict[str, Any]:  # fmt: skip
    """The registration in the reader's terms; credentials in contextSourceInfo masked."""
    body = dict(row.body)
    if context != row.context:
        body = _in_terms_of(body, row.context, context)
    if isinstance(body.get("contextSourceInfo"), list):
        body["contextSourceInfo"] = [
            {"key": i["key"], "value": "***" if SECRET.search(i["key"]) else i["value"]}
            for i in body["contextSourceInfo"]
        ]
    out: dict[str, Any] = {"id": row.id, "type": TYPE, **body}
    out.setdefault("mode", "inclusive")
    out["status"] = "expired" if _expired(row, datetime.now(UTC)) else "ok"
    if sys_attrs:
        out["createdAt"] = stamp(row.created_at)
        out["modifiedAt"] = stamp(row.modified_at)
    return out


def retrieve(session: Session, reg_id: str, context: list[Any], *, unit: str | None = None,
             sys_attrs: bool = False) -> dict[str, Any]:  # fmt: skip
    return render(_get(session, reg_id, unit), context, sys_attrs=sys_attrs)


def listing(session: Session, context: list[Any], *, limit: int = 20, offset: int = 0,
            unit: str | None = None, types: list[str] | None = None,
            attrs: list[str] | None = None, ids: list[str] | None = None,
            sys_attrs: bool = False) -> tuple[list[dict[str, Any]], int]:  # fmt: skip
    """The registrations of ``unit`` (None: all of them), those naming one of ``types``,
    one of ``attrs`` or able to hold one of ``ids`` if given (5.10.2, by the reader's names)."""
    own = [] if unit is None else [ContextSourceRegistration.unit == unit]
    rows = list(session.scalars(select(ContextSourceRegistration).where(*own)
                                .order_by(ContextSourceRegistration.created_at,
                                          ContextSourceRegistration.id)))  # fmt: skip
    if types or attrs or ids:
        attr_iris, type_iris = jsonld.expand_names(context, set(attrs or []), set(types or []))
        wanted_types = set(type_iris.values()) or None
        wanted_attrs = set(attr_iris.values()) or None
        rows = [r for r in rows if compile_row(r).serves(wanted_types, ids, wanted_attrs)]
    total = len(rows)
    return [render(r, context, sys_attrs=sys_attrs) for r in rows[offset : offset + limit]], total


# --- compiled for distributed operations ---------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    types: frozenset[str]  # IRIs
    id: str | None
    pattern: re.Pattern[str] | None

    def may_hold(self, entity_id: str) -> bool:
        return (self.id is None or self.id == entity_id) and \
            (self.pattern is None or self.pattern.search(entity_id) is not None)  # fmt: skip


@dataclass(frozen=True)
class Info:
    selectors: tuple[Selector, ...]  # none: entities of any type
    names: frozenset[str] | None  # attribute IRIs; None: any attribute


@dataclass(frozen=True)
class Compiled:
    """A registration ready for distributed operations: names as IRIs, operations spelled out."""

    id: str
    name: str
    unit: str
    endpoint: str
    mode: str
    operations: frozenset[str]
    infos: tuple[Info, ...]
    timeout: float | None  # seconds; None: the broker's default
    local_only: bool
    headers: tuple[tuple[str, str], ...]  # contextSourceInfo sent as HTTP headers
    jsonld_context: str | None  # contextSourceInfo's jsonldContext: the source's own terms
    tenant: str | None

    def serves(self, types: set[str] | None, ids: list[str] | None,
               attrs: set[str] | None) -> bool:  # fmt: skip
        """Whether the source may hold entities of one of these types (IRIs), of one of these
        ids, with one of these attributes (IRIs): each ``None`` asks nothing of it."""
        for info in self.infos:
            if attrs is not None and info.names is not None and not info.names & attrs:
                continue
            if not info.selectors:  # entities of any type: the source is asked
                return True
            for selector in info.selectors:
                if types is not None and not selector.types & types:
                    continue
                if ids is not None and not any(selector.may_hold(i) for i in ids):
                    continue
                return True
        return False

    def attributes(self) -> frozenset[str] | None:
        """Every attribute (IRI) the registration names; None when one of its items names none
        (any attribute)."""
        found: set[str] = set()
        for info in self.infos:
            if info.names is None:
                return None
            found |= info.names
        return frozenset(found)


def compile_body(reg_id: str, body: dict[str, Any], context: list[Any],
                 unit: str) -> Compiled:  # fmt: skip
    names, types = _names(body)
    iris, type_iris = jsonld.expand_names(context, names, types)
    infos = []
    for info in body.get("information") or []:
        selectors = []
        for e in info.get("entities") or []:
            kinds = e["type"] if isinstance(e["type"], list) else [e["type"]]
            selectors.append(Selector(frozenset(type_iris[k] for k in kinds), e.get("id"),
                                      re.compile(e["idPattern"]) if e.get("idPattern")
                                      else None))  # fmt: skip
        listed = [*(info.get("propertyNames") or []), *(info.get("relationshipNames") or [])]
        infos.append(Info(tuple(selectors), frozenset(iris[n] for n in listed) if listed
                          else None))  # fmt: skip
    operations: set[str] = set()
    for item in body.get("operations") or ["federationOps"]:
        operations |= set(GROUPS.get(item, (item,)))
    management = body.get("management") or {}
    pairs = [(str(i["key"]), str(i["value"])) for i in body.get("contextSourceInfo") or []]
    jsonld_context = next((v for k, v in pairs if k == "jsonldContext"), None)
    if jsonld_context is not None:
        jsonld.expand_names(jsonld.context_of(jsonld_context), set(), set())  # known here
    timeout = management.get("timeout")
    return Compiled(
        id=reg_id, name=str(body.get("registrationName") or reg_id), unit=unit,
        endpoint=str(body.get("endpoint", "")).rstrip("/"),
        mode=str(body.get("mode", "inclusive")), operations=frozenset(operations),
        infos=tuple(infos), timeout=float(timeout) / 1000 if timeout else None,
        local_only=bool(management.get("localOnly", False)),
        headers=tuple((k, v) for k, v in pairs if k != "jsonldContext"),
        jsonld_context=jsonld_context, tenant=body.get("tenant") or None,
    )  # fmt: skip


def compile_row(row: ContextSourceRegistration) -> Compiled:
    return compile_body(row.id, row.body, row.context, row.unit or "")


def live(session: Session) -> list[Compiled]:
    """Every registration not expired, compiled (a distributed operation picks among them)."""
    now = datetime.now(UTC)
    return [compile_row(r) for r in session.scalars(select(ContextSourceRegistration)
                                                    .order_by(ContextSourceRegistration.id))
            if not _expired(r, now)]  # fmt: skip
