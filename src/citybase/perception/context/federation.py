"""Distributed query and retrieval (ETSI GS CIM 009, 4.3.6): a query or retrieval of entities
is also asked of the context sources registered for them (``registrations``), over HTTP through
the platform's outbound policy, each with its registration's timeout; what they answer is merged
with what this store holds.

- Which sources: registrations not expired whose operations include the one asked
  (``queryEntity``, ``retrieveEntity``) and whose information may hold what is asked (a type,
  an id, an attribute). Inclusive, redirect and auxiliary registrations are asked; exclusive
  ones are kept but not asked.
- Loops: a forwarded request carries this broker's name in ``Via``; a request that already
  passed through here, or that says ``local=true``, is answered from this store alone. A
  registration with ``management.localOnly`` is asked with ``local=true``.
- Merging (4.3.6.4): entities by id, their types joined; an attribute held by several is kept
  per datasetId, the instance with the latest ``observedAt`` (else ``modifiedAt``) winning,
  this store's first on a tie; an auxiliary source only fills in attributes no other gave.
- A source that fails, times out or answers with an error is left out and named in an
  ``NGSILD-Warning`` header (6.3.17); the query itself succeeds.
- What a source answers is shown to those who may read its registration's unit's entities
  (``ReadScope``), like that unit's own entities.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session

from citybase.core import net
from citybase.core.settings import Settings
from citybase.perception.context import entity_types, jsonld, registrations
from citybase.perception.context.registrations import Compiled
from citybase.perception.context.service import ReadScope

# parameters of the reader's request not passed on to a source: paging is redone here, and
# the registration filter (csf) and local were for this broker
NOT_FORWARDED = {"limit", "offset", "count", "local", "csf"}
MAX_ASKED = 1000  # entities asked of one source at most (its page and every earlier one)


def broker_name(settings: Settings) -> str:
    """This broker's name in ``Via``: the operator's, or one derived from the database URL
    (the same for every process of a deployment, different between deployments)."""
    given = settings.perception.broker_name.strip()
    if given:
        return given
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:12]
    return f"citybase-{digest}"


def passed_here(via: str | None, name: str) -> bool:
    """Whether a request's ``Via`` (RFC 9110, 7.6.3) names this broker already."""
    for hop in (via or "").split(","):
        parts = hop.split()
        if len(parts) >= 2 and parts[1] == name:
            return True
    return False


@dataclass
class Answer:
    """What one source answered: its entities (in the reader's terms), its count, or why not."""

    source: Compiled
    entities: list[dict[str, Any]] = field(default_factory=list)
    count: int | None = None
    warning: str | None = None


def _type_iris(context: list[Any], types: list[str] | None) -> set[str] | None:
    if not types or "*" in types:
        return None
    names: set[str] = set()
    for expression in types:
        names |= set(entity_types.names(entity_types.parse(expression)))
    return set(jsonld.expand_names(context, set(), names)[1].values())


def sources(session: Session, operation: str, context: list[Any], *,
            types: list[str] | None = None, ids: list[str] | None = None,
            attrs: list[str] | None = None) -> list[Compiled]:  # fmt: skip
    """The live registrations to ask for this operation, auxiliary ones last."""
    attr_iris = set(jsonld.expand_names(context, set(attrs), set())[0].values()) if attrs \
        else None  # fmt: skip
    kinds = _type_iris(context, types)
    found = [r for r in registrations.live(session)
             if operation in r.operations and r.mode != "exclusive"
             and r.serves(kinds, ids, attr_iris)]  # fmt: skip
    return sorted(found, key=lambda r: r.mode == "auxiliary")


def _warning(source: Compiled, code: int, text: str) -> str:
    """One NGSILD-Warning value, as RFC 7234's Warning: code, agent, quoted text (ASCII)."""
    agent = source.id.encode("ascii", "replace").decode()
    said = text.replace('"', "'").replace("\r", " ").replace("\n", " ")
    return f'{code} {agent} "{said.encode("ascii", "replace").decode()[:300]}"'


def _headers(source: Compiled, given: Mapping[str, str], name: str) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if given.get("link"):
        headers["Link"] = given["link"]
    hops = [h for h in (given.get("via"), f"1.1 {name}") if h]
    headers["Via"] = ", ".join(hops)
    for key, value in source.headers:  # contextSourceInfo: credentials and the like
        headers[key] = value
    if source.tenant:
        headers["NGSILD-Tenant"] = source.tenant
    return headers


def _ask(source: Compiled, path: str, params: list[tuple[str, str]], headers: dict[str, str],
         policy: net.OutboundPolicy, timeout: float) -> Answer:  # fmt: skip
    if source.local_only:
        params = [*params, ("local", "true")]
    uri = f"{source.endpoint}{path}" + (f"?{urlencode(params)}" if params else "")
    try:
        got = net.get(uri, headers, policy, timeout=source.timeout or timeout,
                      max_bytes=16 * 1024 * 1024)  # fmt: skip
    except net.OutboundRefused as exc:
        return Answer(source, warning=_warning(source, 299, exc.message))
    except OSError as exc:  # refused, unreachable, timed out
        return Answer(source, warning=_warning(source, 199, f"the source did not answer: {exc}"))
    if got.status == 404 and "/entities/" in path:
        return Answer(source)  # it does not hold the entity: no warning
    if got.status != 200:
        return Answer(source, warning=_warning(source, 299, f"the source answered {got.status}"))
    try:
        body = json.loads(got.body)
    except ValueError:
        return Answer(source, warning=_warning(source, 299, "the source's answer is not JSON"))
    items = body if isinstance(body, list) else [body]
    if not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in items):
        return Answer(source, warning=_warning(source, 299, "the source's answer holds no "
                                               "entities"))  # fmt: skip
    return Answer(source, entities=items, count=len(items))


def gather(asked: list[Compiled], path: str, params: Iterable[tuple[str, str]],
           headers: Mapping[str, str], settings: Settings) -> list[Answer]:  # fmt: skip
    """Ask every source at once; each answers within its timeout or is reported."""
    if not asked:
        return []
    policy = net.OutboundPolicy.parse(settings.web.outbound_allow)
    name = broker_name(settings)
    kept = [(k, v) for k, v in params if k not in ("local", "csf")]
    timeout = settings.perception.source_timeout_seconds
    with ThreadPoolExecutor(max_workers=min(8, len(asked))) as pool:
        futures = [pool.submit(_ask, s, path, kept, _headers(s, headers, name), policy, timeout)
                   for s in asked]  # fmt: skip
        return [f.result() for f in futures]


def query_params(params: Iterable[tuple[str, str]], offset: int, limit: int) -> list[tuple[str, str]]:  # fmt: skip
    """A query's parameters for a source: every entity up to the end of the reader's page."""
    kept = [(k, v) for k, v in params if k not in NOT_FORWARDED]
    return [*kept, ("limit", str(min(offset + limit, MAX_ASKED))), ("offset", "0")]


def entity_path(entity_id: str) -> str:
    return f"/ngsi-ld/v1/entities/{quote(entity_id, safe='')}"


def visible(answers: list[Answer], scope: ReadScope, context: list[Any]) -> list[Answer]:
    """Each source's entities that the reader may see: those a reader of its registration's
    unit's entities may."""
    if scope.units is None:
        return answers
    for answer in answers:
        if answer.source.unit in scope.units:
            continue
        kept = []
        for entity in answer.entities:
            kinds = entity.get("type")
            names = set(kinds) if isinstance(kinds, list) else {str(kinds)}
            iris = set(jsonld.expand_names(context, set(), names)[1].values())
            if scope.sees(answer.source.unit, iris):
                kept.append(entity)
        answer.entities = kept
    return answers


def warnings(answers: list[Answer]) -> dict[str, str]:
    found = [a.warning for a in answers if a.warning]
    return {"NGSILD-Warning": ", ".join(found)} if found else {}


# --- merging (4.3.6.4) ------------------------------------------------------------------------

ENTITY_MEMBERS = {"id", "type", "@context", "createdAt", "modifiedAt", "deletedAt"}


def _instances(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _dataset(item: Any) -> str:
    return str(item.get("datasetId", "@none")) if isinstance(item, dict) else "@none"


def _moment(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    return str(item.get("observedAt") or item.get("modifiedAt") or "")


def _merge_attribute(held: Any, given: Any) -> Any:
    """The instances of both, one per datasetId: the later observed (or modified) wins."""
    items = _instances(held)
    if not all(isinstance(i, dict) for i in items + _instances(given)):
        return held  # simplified values carry no time to compare: the first kept
    by_dataset = {_dataset(i): i for i in items}
    order = [_dataset(i) for i in items]
    for item in _instances(given):
        key = _dataset(item)
        if key not in by_dataset:
            order.append(key)
            by_dataset[key] = item
        elif _moment(item) > _moment(by_dataset[key]):
            by_dataset[key] = item
    merged = [by_dataset[k] for k in order]
    return merged[0] if len(merged) == 1 else merged


def _merge_entity(held: dict[str, Any], given: dict[str, Any], auxiliary: bool) -> None:
    kinds = _instances(held.get("type"))
    for kind in _instances(given.get("type")):
        if kind not in kinds:
            kinds.append(kind)
    if kinds:
        held["type"] = kinds[0] if len(kinds) == 1 else kinds
    for key, value in given.items():
        if key in ENTITY_MEMBERS:
            continue
        if key not in held:
            held[key] = value
        elif not auxiliary:
            held[key] = _merge_attribute(held[key], value)


def merge(local: list[dict[str, Any]], answers: list[Answer]) -> list[dict[str, Any]]:
    """This store's entities and the sources', one per id, in first-seen order."""
    by_id: dict[str, dict[str, Any]] = {}
    for entity in local:
        by_id.setdefault(entity["id"], entity)
    for answer in answers:
        auxiliary = answer.source.mode == "auxiliary"
        for entity in answer.entities:
            if entity["id"] in by_id:
                _merge_entity(by_id[entity["id"]], entity, auxiliary)
            else:
                by_id[entity["id"]] = dict(entity)
    return list(by_id.values())


def count(local_total: int | None, local: list[dict[str, Any]], answers: list[Answer]) -> int:
    """The entities matched, as far as known: this store's count and each source's, less the
    entities seen in more than one of the answers read."""
    seen = {e["id"] for e in local}
    total = local_total or 0
    for answer in answers:
        ids = {e["id"] for e in answer.entities}
        total += (answer.count or 0) - len(ids & seen)
        seen |= ids
    return total
