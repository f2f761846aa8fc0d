"""Usage policies (使用策略) of data products: ODRL 2.2 policies in JSON-LD, compiled once and
decided many times.

A contract's terms are an ODRL 2.2 policy (a Set, an Offer or an Agreement). ``compile_policy``
reads one — checking every rule, constraint, operand and action and refusing, with the path of
the part at fault, anything it does not understand — into a ``CompiledPolicy``; ``decide`` says
whether one delivery (a ``UsageRequest``) is allowed and names the rule that allowed or refused
it. Both are pure: no database, no I/O, nothing fetched.

JSON-LD is read by a normaliser, not a JSON-LD processor: every ODRL term is accepted by its
compact name (``permission``), its prefixed name (``odrl:permission``) and its IRI
(``http://www.w3.org/ns/odrl/2/permission``), a value may be wrapped as ``{"@id": …}``,
``{"@value": …}``, ``{"@list": […]}`` or a one-element array, and ``@context`` may only name
the ODRL context, the Dataspace Protocol's, or declare the prefixes below — any other context
is refused (it is never fetched) because it could give a known word another meaning.

The city's own left operands live in the ``citybase:`` namespace (``CITYBASE_NS``):

- ``citybase:rows`` — rows delivered under the contract so far plus the rows asked now;
- ``citybase:bytes`` — bytes delivered so far plus the bytes asked now;
- ``citybase:scenario`` — the application scenario (应用场景) the delivery is for.

Not supported (refused when met): action refinements, ``andSequence``, ``remedy`` conditions
other than as listed duties, policy inheritance (``inheritFrom``), and any left operand,
operator or action not listed here.
"""

from __future__ import annotations

import operator as op
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from citybase.core.errors import InvalidInput

ODRL_NS = "http://www.w3.org/ns/odrl/2/"
CITYBASE_NS = "https://citybase.cn/ns/odrl/"
DSPACE_NS = "https://w3id.org/dspace/v0.8/"
ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
DSPACE_CONTEXTS = frozenset({
    "https://w3id.org/dspace/2024/1/context.json",
    "https://w3id.org/dspace/2025/1/context.jsonld",
    "https://w3id.org/dspace/v0.8/context.json",
})  # fmt: skip
# prefixes a context may declare (and that are understood without one)
PREFIXES = {
    "odrl": ODRL_NS,
    "citybase": CITYBASE_NS,
    "dspace": DSPACE_NS,
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
}
CITY = ZoneInfo("Asia/Shanghai")  # a bare date in a policy is the city's day

POLICY_TYPES = ("Set", "Offer", "Agreement")
# each action and the action it is part of (ODRL 2.2: every action but transfer is a kind of use)
ACTIONS: dict[str, str | None] = {
    "use": None, "transfer": None, "give": "transfer", "sell": "transfer",
    "read": "use", "display": "use", "present": "use", "print": "use", "stream": "use",
    "reproduce": "use", "distribute": "use", "aggregate": "use", "anonymize": "use",
    "derive": "use", "extract": "use", "index": "use", "transform": "use", "modify": "use",
    "archive": "use", "execute": "use", "annotate": "use", "watermark": "use",
    # duties
    "delete": "use", "attribute": "use", "inform": "use", "compensate": "use",
    "obtainConsent": "use", "nextPolicy": "use", "acceptTracking": "use",
}  # fmt: skip
OPERATORS = ("eq", "neq", "lt", "lteq", "gt", "gteq", "isAnyOf", "isNoneOf", "isPartOf", "isAllOf")
ORDERING = ("eq", "neq", "lt", "lteq", "gt", "gteq")
SETS = ("eq", "neq", "isAnyOf", "isNoneOf", "isAllOf")
# left operand → (kind of value, operators it takes)
LEFT_OPERANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "dateTime": ("datetime", ORDERING),
    "count": ("int", (*ORDERING, "isAnyOf", "isNoneOf")),
    "purpose": ("str", (*SETS, "isPartOf")),
    "spatial": ("str", (*SETS, "isPartOf")),
    "recipient": ("str", SETS),
    "citybase:rows": ("int", ORDERING),
    "citybase:bytes": ("int", ORDERING),
    "citybase:scenario": ("str", SETS),
}
LOGICAL = ("and", "or", "xone")


class PolicyError(InvalidInput):
    """A policy that cannot be compiled: ``path`` names the part at fault
    (``permission[0].constraint[1].leftOperand``), ``reason`` says why."""

    code = "invalid_policy"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path or 'policy'}: {reason}", field=path or "policy")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class UsageRequest:
    """One delivery asked under a contract: what is done, why, when, where, by whom, and what
    the contract has already served (its meters)."""

    action: str
    at: datetime
    purpose: str = ""
    region: str = ""  # region code (fz, fz.gulou…): a code is part of the codes it extends
    calls: int = 0  # deliveries already made under the contract
    rows: int = 0  # rows already delivered
    bytes: int = 0  # bytes already delivered
    rows_asked: int = 0
    bytes_asked: int = 0
    assignee: str = ""
    scenario: str = ""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise InvalidInput("a delivery's time has a time zone", field="at")


@dataclass(frozen=True)
class Duty:
    """What the assignee must do as a condition of the delivery (delete at the end of the term,
    attribute the source…): the rule it comes from, its action and its constraints, as read."""

    rule: str
    action: str
    constraints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str  # the rule (or constraint) that allowed or refused: "permission[0]"…
    reason: str
    duties: list[Duty] = field(default_factory=list)


# --- normalising JSON-LD ---------------------------------------------------------------------


def _term(value: Any, path: str, what: str) -> str:
    """An ODRL or citybase term in its short form: ``use``, ``citybase:rows``."""
    if isinstance(value, dict):
        if "@id" in value:
            value = value["@id"]
        elif "@value" in value:
            value = value["@value"]
    if isinstance(value, list) and len(value) == 1:
        return _term(value[0], path, what)
    if not isinstance(value, str) or not value:
        raise PolicyError(path, f"{what} must be a term (a name or an IRI), not {value!r}")
    if value.startswith(ODRL_NS):
        return value[len(ODRL_NS) :]
    if value.startswith("odrl:"):
        return value[5:]
    if value.startswith(CITYBASE_NS):
        return "citybase:" + value[len(CITYBASE_NS) :]
    return value


def _key(key: str) -> str:
    if key.startswith("odrl:"):
        return key[5:]
    if key.startswith(ODRL_NS):
        return key[len(ODRL_NS) :]
    return key


def _node(value: Any, path: str, known: frozenset[str]) -> dict[str, Any]:
    """An object's properties by their short ODRL names. A property of another vocabulary
    (``dspace:timestamp``, ``dct:title``) is an annotation and passes; an ODRL or bare name
    not in ``known`` is refused, so that a misspelt ``constraints`` does not silently drop
    the limits it was meant to set."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        raise PolicyError(path, f"must be an object, not {type(value).__name__}")
    node = {}
    for raw, item in value.items():
        key = _key(raw)
        if key not in known and (":" not in key or key.startswith("citybase:")):
            where = f"{path}.{key}" if path else key
            raise PolicyError(where, f"unknown property {raw!r}")
        node[key] = item
    return node


_ID = frozenset({"@id", "@type", "uid"})
POLICY_KEYS = _ID | {
    "@context", "profile", "target", "assigner", "assignee", "conflict", "permission",
    "prohibition", "obligation", "inheritFrom",
}  # fmt: skip
RULE_KEYS = _ID | {"action", "constraint", "duty", "remedy", "assignee", "assigner", "target"}
CONSTRAINT_KEYS = _ID | {"leftOperand", "operator", "rightOperand", "dataType", *LOGICAL}


def _many(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, dict) and "@list" in value:
        value = value["@list"]
    if not isinstance(value, list):
        return [value]
    out: list[Any] = []
    for item in value:
        out.extend(item["@list"] if isinstance(item, dict) and "@list" in item else [item])
    return out


def _check_context(context: Any) -> None:
    for entry in _many(context):
        if isinstance(entry, str):
            if entry != ODRL_CONTEXT and entry not in DSPACE_CONTEXTS:
                raise PolicyError("@context", (
                    f"unknown context {entry!r}: only {ODRL_CONTEXT} and the Dataspace "
                    "Protocol's contexts are understood (no context is fetched)"
                ))  # fmt: skip
        elif isinstance(entry, dict):
            for prefix, iri in entry.items():
                known = {PREFIXES.get(prefix), ODRL_NS if prefix == "@vocab" else None}
                if prefix == "@version" or iri in known:
                    continue
                raise PolicyError(f"@context.{prefix}", (
                    f"a context may only declare the prefixes {', '.join(PREFIXES)} "
                    f"with their usual IRIs, not {prefix!r}: {iri!r}"
                ))  # fmt: skip
        else:
            raise PolicyError("@context", f"not a context: {entry!r}")


# --- compiling ---------------------------------------------------------------------------------

Getter = Callable[[UsageRequest], Any]
_GETTERS: dict[str, Getter] = {
    "dateTime": lambda r: r.at,
    "count": lambda r: r.calls + 1,
    "purpose": lambda r: r.purpose,
    "spatial": lambda r: r.region,
    "recipient": lambda r: r.assignee,
    "citybase:rows": lambda r: r.rows + r.rows_asked,
    "citybase:bytes": lambda r: r.bytes + r.bytes_asked,
    "citybase:scenario": lambda r: r.scenario,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": op.eq, "neq": op.ne, "lt": op.lt, "lteq": op.le, "gt": op.gt, "gteq": op.ge,
}  # fmt: skip


def _part_of(value: str, whole: str) -> bool:
    return value == whole or value.startswith(whole + ".") or value.startswith(whole + "/")


@dataclass(frozen=True, slots=True)
class Constraint:
    path: str
    label: str  # "count lteq 1000"
    test: Callable[[UsageRequest], bool]
    left: str = ""  # empty for a logical constraint

    def explain(self, request: UsageRequest) -> str:
        if not self.left:
            return f"{self.label} is not satisfied"
        value = _GETTERS[self.left](request)
        shown = value.isoformat() if isinstance(value, datetime) else repr(value)
        return f"{self.label} does not hold for {self.left} = {shown}"


def _scalar(value: Any, kind: str, path: str) -> Any:
    if isinstance(value, dict):
        value = value.get("@value", value.get("@id", value))
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise PolicyError(path, f"must be a whole number, not {value!r}")
        try:
            number = int(value)
        except ValueError:
            raise PolicyError(path, f"must be a whole number, not {value!r}") from None
        if number < 0:
            raise PolicyError(path, f"must not be negative ({number})")
        return number
    if kind == "datetime":
        if not isinstance(value, str):
            raise PolicyError(path, f"must be an xsd:dateTime, not {value!r}")
        try:
            if len(value) == 10:
                return datetime.combine(date.fromisoformat(value), time(), CITY)
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise PolicyError(path, f"{value!r} is not an xsd:dateTime") from None
        if when.tzinfo is None:
            raise PolicyError(path, f"{value!r} has no time zone (add Z or +08:00)")
        return when.astimezone(UTC)
    if isinstance(value, bool | dict | list) or value is None:
        raise PolicyError(path, f"must be a string, not {value!r}")
    return _term(str(value), path, "the right operand")


def _constraint(raw: Any, path: str) -> Constraint:
    if isinstance(raw, dict) and ("andSequence" in raw or "odrl:andSequence" in raw):
        raise PolicyError(f"{path}.andSequence", "andSequence is not supported")
    node = _node(raw, path, CONSTRAINT_KEYS)
    logical = [k for k in node if k in LOGICAL]
    if logical:
        kind = logical[0]
        parts = [_constraint(c, f"{path}.{kind}[{i}]") for i, c in enumerate(_many(node[kind]))]
        if len(parts) < 2:
            raise PolicyError(
                f"{path}.{kind}", "a logical constraint joins two constraints or more"
            )
        tests = tuple(p.test for p in parts)
        label = f" {kind} ".join(f"({p.label})" for p in parts)
        test: Callable[[UsageRequest], bool]
        if kind == "and":
            test = lambda r: all(t(r) for t in tests)  # noqa: E731
        elif kind == "or":
            test = lambda r: any(t(r) for t in tests)  # noqa: E731
        else:
            test = lambda r: sum(1 for t in tests if t(r)) == 1  # noqa: E731
        return Constraint(path, label, test)
    for needed in ("leftOperand", "operator", "rightOperand"):
        if needed not in node:
            raise PolicyError(f"{path}.{needed}", "missing")
    left = _term(node["leftOperand"], f"{path}.leftOperand", "leftOperand")
    if left not in LEFT_OPERANDS:
        raise PolicyError(f"{path}.leftOperand", (
            f"unknown left operand {left!r}: understood are {', '.join(LEFT_OPERANDS)}"
        ))  # fmt: skip
    kind, allowed = LEFT_OPERANDS[left]
    name = _term(node["operator"], f"{path}.operator", "operator")
    if name not in OPERATORS:
        raise PolicyError(f"{path}.operator", (
            f"unknown operator {name!r}: understood are {', '.join(OPERATORS)}"
        ))  # fmt: skip
    if name not in allowed:
        raise PolicyError(f"{path}.operator", f"{left} cannot be compared with {name}")
    where = f"{path}.rightOperand"
    items = _many(node["rightOperand"])
    if name in ("isAnyOf", "isNoneOf", "isAllOf"):
        operand: Any = frozenset(_scalar(v, kind, f"{where}[{i}]") for i, v in enumerate(items))
        if not operand:
            raise PolicyError(where, f"{name} needs one value or more")
        shown = "[" + ", ".join(sorted(map(str, operand))) + "]"
    else:
        if len(items) != 1:
            raise PolicyError(where, f"{name} takes one value, not {len(items)}")
        operand = _scalar(items[0], kind, where)
        shown = operand.isoformat() if isinstance(operand, datetime) else str(operand)
    get = _GETTERS[left]
    if name in _COMPARE:
        compare = _COMPARE[name]
        test = lambda r: compare(get(r), operand)  # noqa: E731
    elif name == "isAnyOf":
        test = lambda r: get(r) in operand  # noqa: E731
    elif name == "isNoneOf":
        test = lambda r: get(r) not in operand  # noqa: E731
    elif name == "isAllOf":  # the request's one value is all of them: only when one is asked
        test = lambda r: operand == {get(r)}  # noqa: E731
    else:  # isPartOf
        test = lambda r: _part_of(get(r), operand)  # noqa: E731
    return Constraint(path, f"{left} {name} {shown}", test, left)


@dataclass(frozen=True, slots=True)
class Rule:
    path: str  # permission[0]
    kind: str  # permission, prohibition, obligation
    actions: frozenset[str]  # the action and every action it includes
    action: str
    assignee: str
    constraints: tuple[Constraint, ...]
    duties: tuple[Duty, ...] = ()


def _included(action: str) -> frozenset[str]:
    """``action`` and every action that is a kind of it."""
    found = {action}
    grew = True
    while grew:
        more = {a for a, parent in ACTIONS.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return frozenset(found)


INCLUDES = {action: _included(action) for action in ACTIONS}


def _party(value: Any, path: str) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and "uid" in value:
        value = value["uid"]
    return _term(value, path, "a party")


def _action(raw: Any, path: str) -> str:
    if isinstance(raw, dict) and ("refinement" in raw or "odrl:refinement" in raw):
        raise PolicyError(f"{path}.refinement", "action refinements are not supported")
    if isinstance(raw, dict) and "rdf:value" in raw:
        raw = raw["rdf:value"]
    name = _term(raw, path, "action")
    if name not in ACTIONS:
        raise PolicyError(path, f"unknown action {name!r}: understood are {', '.join(ACTIONS)}")
    return name


def _rules(raw: Any, kind: str, path: str, inherited: str) -> list[Rule]:
    rules = []
    for i, item in enumerate(_many(raw)):
        where = f"{path}[{i}]" if path else f"{kind}[{i}]"
        node = _node(item, where, RULE_KEYS)
        if "action" not in node:
            raise PolicyError(f"{where}.action", "missing: a rule names its action")
        actions = _many(node["action"])
        if len(actions) != 1:
            raise PolicyError(f"{where}.action", "a rule names one action (write one rule each)")
        action = _action(actions[0], f"{where}.action")
        constraints = tuple(
            _constraint(c, f"{where}.constraint[{j}]")
            for j, c in enumerate(_many(node.get("constraint")))
        )
        duties: tuple[Duty, ...] = ()
        if kind == "permission":
            duties = tuple(_duties(node.get("duty"), f"{where}.duty"))
        elif "duty" in node:
            raise PolicyError(f"{where}.duty", f"a {kind} has no duties (ODRL 2.2)")
        if kind == "prohibition" and "remedy" in node:
            duties = tuple(_duties(node["remedy"], f"{where}.remedy"))
        elif "remedy" in node:
            raise PolicyError(f"{where}.remedy", "only a prohibition has remedies (ODRL 2.2)")
        assignee = _party(node.get("assignee"), f"{where}.assignee") or inherited
        rules.append(Rule(where, kind, INCLUDES[action], action, assignee, constraints, duties))
    return rules


def _duties(raw: Any, path: str) -> Iterable[Duty]:
    for rule in _rules(raw, "duty", path, ""):
        yield Duty(rule.path, rule.action, tuple(c.label for c in rule.constraints))


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    uid: str
    type: str  # Set, Offer, Agreement
    assigner: str
    assignee: str
    target: str
    conflict: str  # perm, prohibit, invalid
    permissions: tuple[Rule, ...]
    prohibitions: tuple[Rule, ...]
    obligations: tuple[Duty, ...]


def compile_policy(policy: Mapping[str, Any]) -> CompiledPolicy:
    """Read an ODRL 2.2 policy (JSON-LD, compact or with IRIs), or raise ``PolicyError`` naming
    the part at fault."""
    if not isinstance(policy, Mapping):
        raise PolicyError("", f"a policy is a JSON object, not {type(policy).__name__}")
    _check_context(policy.get("@context"))
    node = _node(dict(policy), "", POLICY_KEYS)
    node.pop("@context", None)
    kind = _term(node.get("@type", "Set"), "@type", "@type")
    if kind not in POLICY_TYPES:
        raise PolicyError("@type", f"{kind!r} is not a policy type: {', '.join(POLICY_TYPES)}")
    uid = node.get("@id", node.get("uid"))
    if not isinstance(uid, str) or not uid:
        raise PolicyError("uid", "missing: a policy has an identifier (@id or uid)")
    if "inheritFrom" in node:
        raise PolicyError("inheritFrom", "policy inheritance is not supported")
    assigner = _party(node.get("assigner"), "assigner")
    assignee = _party(node.get("assignee"), "assignee")
    if kind in ("Offer", "Agreement") and not assigner:
        raise PolicyError("assigner", f"missing: an {kind} names its assigner (ODRL 2.2)")
    if kind == "Agreement" and not assignee:
        raise PolicyError("assignee", "missing: an Agreement names its assignee (ODRL 2.2)")
    target = _party(node.get("target"), "target")
    conflict = _term(node.get("conflict", "invalid"), "conflict", "conflict")
    if conflict not in ("perm", "prohibit", "invalid"):
        raise PolicyError("conflict", f"{conflict!r} is not perm, prohibit or invalid")
    permissions = _rules(node.get("permission"), "permission", "", assignee)
    prohibitions = _rules(node.get("prohibition"), "prohibition", "", assignee)
    obligations = tuple(_duties(node.get("obligation"), "obligation"))
    if not permissions and not prohibitions and not obligations:
        raise PolicyError("permission", "a policy has a permission, prohibition or obligation")
    return CompiledPolicy(
        uid, kind, assigner, assignee, target, conflict, tuple(permissions),
        tuple(prohibitions), obligations,
    )  # fmt: skip


# --- deciding ----------------------------------------------------------------------------------


def _applies(rule: Rule, request: UsageRequest) -> bool:
    return request.action in rule.actions and (
        not rule.assignee or not request.assignee or rule.assignee == request.assignee
    )


def _failing(rule: Rule, request: UsageRequest) -> Constraint | None:
    for constraint in rule.constraints:
        if not constraint.test(request):
            return constraint
    return None


def decide(policy: CompiledPolicy, request: UsageRequest) -> Decision:
    """Whether ``request`` is allowed by ``policy``, and the rule that says so.

    A prohibition whose action covers the request's and whose constraints hold refuses it —
    unless the policy's ``conflict`` is ``perm`` and a permission allows it. Otherwise the
    first permission whose action covers the request's, whose assignee is the requester (or
    unnamed), and whose constraints all hold allows it, with its duties and the policy's
    obligations. Without one, the refusal names the first constraint that failed."""
    if request.action not in ACTIONS:
        return Decision(False, "action", f"unknown action {request.action!r}")
    if policy.assignee and request.assignee and policy.assignee != request.assignee:
        return Decision(False, "assignee", (
            f"the policy is assigned to {policy.assignee}, not {request.assignee}"
        ))  # fmt: skip
    prohibited = None
    for rule in policy.prohibitions:
        if _applies(rule, request) and _failing(rule, request) is None:
            prohibited = rule
            break
    if prohibited is not None and policy.conflict != "perm":
        return Decision(False, prohibited.path, f"{request.action} is prohibited", [])
    failed: Constraint | None = None
    for rule in policy.permissions:
        if not _applies(rule, request):
            continue
        constraint = _failing(rule, request)
        if constraint is None:
            return Decision(
                True, rule.path, f"{request.action} is permitted",
                [*rule.duties, *policy.obligations],
            )  # fmt: skip
        failed = failed or constraint
    if prohibited is not None:
        return Decision(False, prohibited.path, f"{request.action} is prohibited", [])
    if failed is not None:
        return Decision(False, f"{failed.path} ({failed.label})", failed.explain(request))
    return Decision(False, "permission", f"no permission covers {request.action}")


CACHE_SIZE = 50_000
_compiled: OrderedDict[str, CompiledPolicy] = OrderedDict()


def compiled(key: str, policy: Mapping[str, Any]) -> CompiledPolicy:
    """The compiled form of ``policy``, kept by ``key`` — a key that changes whenever the
    policy does (a contract's number and version, or a digest of the stored JSON) — so that a
    process compiles each live contract once and decides from memory after. The
    ``CACHE_SIZE`` most recently used are kept."""
    found = _compiled.get(key)
    if found is not None:
        _compiled.move_to_end(key)
        return found
    made = _compiled[key] = compile_policy(policy)
    if len(_compiled) > CACHE_SIZE:
        _compiled.popitem(last=False)
    return made
