"""The NGSI-LD query language (``q``, ETSI GS CIM 009 §4.9), parsed once and evaluated against
entities in normalized form.

    q        = or
    or       = and *("|" and)
    and      = factor *(";" and)
    factor   = "(" or ")" / term
    term     = path [op value] / "!" path          ; a path alone: the attribute exists
    path     = name *("." name) *("[" name "]")    ; sub-attributes, then keys into the value
             / name "{" [type ":"] path "}"        ; the path in the entity the Relationship
                                                   ; links to (of that type, if named)
    op       = "==" / "!=" / ">" / ">=" / "<" / "<=" / "~=" / "!~="
    value    = a list (a,b,c; == and != only), a range (lo..hi; == and != only), a quoted
               string, a number, true/false, a date-time or a URI

``;`` binds tighter than ``|``. A path's first name is an attribute; the names after a dot are its
sub-attributes (or ``observedAt``, ``unitCode``, ``datasetId``, ``createdAt``, ``modifiedAt``);
bracketed names walk into a JSON value, or pick a LanguageProperty's language (``[*]``: any).
A Relationship compares its object, and never meets an ordering operator; followed into the
entity it links to (``managedBy{name}``), the term holds when it holds of any linked entity."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from citybase.core.errors import CitybaseError

META = {"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"}
ORDERING = {">", ">=", "<", "<="}
TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<op>!~=|~=|==|!=|>=|<=|>|<)
    | (?P<punct>[();|!,])
    | (?P<word>[^\s();|!=<>~",]+)
    )""",
    re.VERBOSE,
)


class QueryError(CitybaseError):
    status_code = 400
    code = "BadRequestData"


@dataclass(frozen=True)
class Path:
    attribute: str
    sub: tuple[str, ...] = ()  # sub-attributes, or one metadata key at the end
    keys: tuple[str, ...] = ()  # keys into the (compound) value
    linked: Path | None = None  # the path in the entity the Relationship links to
    hint: str | None = None  # the type that linked entity must have

    def names(self) -> set[str]:
        inner = self.linked.names() if self.linked is not None else set()
        return {self.attribute, *(s for s in self.sub if s not in META), *inner}

    def depth(self) -> int:
        """How many levels of linked entities the path goes into."""
        return 0 if self.linked is None else 1 + self.linked.depth()

    def expanded(self, iris: dict[str, str], types: dict[str, str]) -> Path:
        sub = tuple(s if s in META else iris.get(s, s) for s in self.sub)
        linked = self.linked.expanded(iris, types) if self.linked is not None else None
        hint = types.get(self.hint, self.hint) if self.hint is not None else None
        return Path(iris.get(self.attribute, self.attribute), sub, self.keys, linked, hint)


@dataclass(frozen=True)
class Term:
    path: Path
    op: str | None = None  # None: the attribute exists
    value: Any = None
    negated: bool = False  # "!path": the attribute does not exist


@dataclass(frozen=True)
class Junction:
    kind: str  # "and" or "or"
    parts: tuple[Any, ...]


Node = Term | Junction


@dataclass(frozen=True)
class Range:
    low: Any
    high: Any


def _tokens(q: str) -> list[tuple[str, str]]:
    out = []
    position = 0
    q = q.strip()
    while position < len(q):
        found = TOKEN.match(q, position)
        if found is None or found.end() == position:
            raise QueryError(f"q: cannot read from {q[position:]!r}", field="q")
        kind = found.lastgroup or ""
        out.append((kind, found.group(kind)))
        position = found.end()
        while position < len(q) and q[position].isspace():
            position += 1
    return out


class _Parser:
    def __init__(self, q: str) -> None:
        self.tokens = _tokens(q)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("q ends too soon", field="q")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.either()
        if self.peek() is not None:
            raise QueryError(f"q: unexpected {self.peek()[1]!r}", field="q")  # type: ignore[index]
        return node

    def either(self) -> Node:
        parts = [self.both()]
        while self.peek() == ("punct", "|"):
            self.take()
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def both(self) -> Node:
        parts = [self.factor()]
        while self.peek() == ("punct", ";"):
            self.take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def factor(self) -> Node:
        token = self.take()
        if token == ("punct", "("):
            node = self.either()
            if self.take() != ("punct", ")"):
                raise QueryError("q: a parenthesis is not closed", field="q")
            return node
        if token == ("punct", "!"):
            kind, word = self.take()
            if kind != "word":
                raise QueryError("q: ! is followed by an attribute", field="q")
            return Term(_path(word), negated=True)
        if token[0] != "word":
            raise QueryError(f"q: an attribute is expected, not {token[1]!r}", field="q")
        path = _path(token[1])
        following = self.peek()
        if following is None or following[0] != "op":
            return Term(path)
        op = self.take()[1]
        raws = [self.value(op)]
        while self.peek() == ("punct", ","):  # a value list: "a","b" or 1,2 (4.9)
            self.take()
            raws.append(self.value(op))
        if len(raws) == 1:
            return Term(path, op, _value(raws[0], op))
        if op not in ("==", "!="):
            raise QueryError("q: a list goes with == or !=", field="q")
        return Term(path, op, tuple(_scalar(r) for r in raws))

    def value(self, op: str) -> str:
        kind, raw = self.take()
        if kind not in ("word", "str"):
            raise QueryError(f"q: a value is expected after {op}", field="q")
        return raw


def _path(word: str) -> Path:
    if "{" in word or "}" in word:
        return _linked_path(word)
    found = re.fullmatch(r"([^\[\].]+(?:\.[^\[\].]+)*)((?:\[[^\[\]]+\])*)", word)
    if found is None:
        raise QueryError(f"q: {word!r} is not an attribute path", field="q")
    dotted = found.group(1).split(".")
    keys = tuple(re.findall(r"\[([^\[\]]+)\]", found.group(2)))
    return Path(dotted[0], tuple(dotted[1:]), keys)


def _linked_path(word: str) -> Path:
    """``attr{path}`` or ``attr{Type:path}``: a path followed into the linked entity."""
    head, brace, rest = word.partition("{")
    if not brace or not rest.endswith("}") or not head or "[" in head:
        raise QueryError(f"q: {word!r} is not an attribute path", field="q")
    inner, hint = rest[:-1], None
    typed = re.match(r"^([^{}\[\].:/]+):(?!//)(.+)$", inner)
    if typed is not None:
        hint, inner = typed.group(1), typed.group(2)
    outer = _path(head)
    if outer.keys:
        raise QueryError(f"q: {word!r} is not an attribute path", field="q")
    return Path(outer.attribute, outer.sub, (), _path(inner), hint)


def _scalar(raw: str) -> Any:
    if raw.startswith('"'):
        return raw[1:-1].replace('\\"', '"')
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return float(raw)
    except ValueError:
        pass
    moment = _moment(raw)
    if moment is not None:
        return moment
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", raw):
        return raw  # a URI
    raise QueryError(f"q: {raw} is not a number, true/false, a quoted string, a date-time or "
                     "a URI", field="q")  # fmt: skip


def _moment(raw: Any) -> datetime | None:
    if not isinstance(raw, str) or not re.match(r"^\d{4}-\d{2}-\d{2}T", raw):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def _value(raw: str, op: str) -> Any:
    if op in ("~=", "!~="):
        pattern = _scalar(raw) if raw.startswith('"') else raw
        try:
            return re.compile(str(pattern))
        except re.error as exc:
            raise QueryError(f"q: {pattern} is not a regular expression: {exc}",
                             field="q") from None  # fmt: skip
    if not raw.startswith('"') and ".." in raw:
        if op not in ("==", "!="):
            raise QueryError("q: a range goes with == or !=", field="q")
        low, _, high = raw.partition("..")
        return Range(_scalar(low), _scalar(high))
    return _scalar(raw)


def parse(q: str) -> Node:
    if not q.strip():
        raise QueryError("q is empty", field="q")
    return _Parser(q).parse()


def names(node: Node) -> set[str]:
    """Every attribute and sub-attribute name the query uses (to be expanded to IRIs)."""
    if isinstance(node, Term):
        return node.path.names()
    return set().union(*(names(p) for p in node.parts))


def hints(node: Node) -> set[str]:
    """Every type named in a linked path (``managedBy{Building:name}``)."""
    if isinstance(node, Junction):
        return set().union(*(hints(p) for p in node.parts))
    found: set[str] = set()
    path: Path | None = node.path
    while path is not None:
        if path.hint is not None:
            found.add(path.hint)
        path = path.linked
    return found


def depth(node: Node) -> int:
    """How many levels of linked entities the query goes into."""
    if isinstance(node, Junction):
        return max(depth(p) for p in node.parts)
    return node.path.depth()


def expanded(node: Node, iris: dict[str, str], types: dict[str, str] | None = None) -> Node:
    """The query with its names (and linked paths' types) replaced by their IRIs."""
    if isinstance(node, Junction):
        return Junction(node.kind, tuple(expanded(p, iris, types) for p in node.parts))
    return Term(node.path.expanded(iris, types or {}), node.op, node.value, node.negated)


# the type(s) and attributes of the entity with this id, if the reader may see it
Follow = Callable[[str], tuple[set[str], dict[str, Any]] | None]


_MISSING = object()


def _target(attrs: dict[str, Any], path: Path) -> Any:
    attr = attrs.get(path.attribute)
    if not isinstance(attr, dict):
        return _MISSING
    for name in path.sub:
        if name in META:
            return attr.get(name, _MISSING)
        attr = attr.get(name)
        if not isinstance(attr, dict):
            return _MISSING
    keys = path.keys
    if attr.get("type") == "LanguageProperty":  # [tag] picks a language, [*] any (4.9)
        languages = attr.get("languageMap")
        if not keys or not isinstance(languages, dict):
            return languages if not keys else _MISSING
        tag, keys = keys[0], keys[1:]
        if tag == "*":
            return list(languages.values()) if languages and not keys else _MISSING
        value = languages.get(tag, _MISSING)
        return value if not keys else _MISSING
    value = attr.get("object") if attr.get("type") == "Relationship" else attr.get("value")
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    return value


def _targets(attr: Any) -> list[str]:
    """The ids a Relationship or ListRelationship links to."""
    if not isinstance(attr, dict):
        return []
    if attr.get("type") == "Relationship":
        found = attr.get("object")
        return [found] if isinstance(found, str) else []
    if attr.get("type") == "ListRelationship":
        items = [i.get("object") if isinstance(i, dict) else i
                 for i in attr.get("objectList") or []]  # fmt: skip
        return [i for i in items if isinstance(i, str)]
    return []


def _holds_linked(node: Term, held: Any, follow: Follow | None) -> bool:
    path = node.path
    assert path.linked is not None
    inner = Term(path.linked, node.op, node.value, node.negated)
    results = []
    for target in _targets(held) if follow is not None else []:
        found = follow(target)  # type: ignore[misc]
        if found is None or (path.hint is not None and path.hint not in found[0]):
            continue  # not seen by this reader, or not of the type named
        results.append(holds(inner, found[1], follow))
    if node.negated:
        return all(results)
    return any(results)


def _same_kind(have: Any, wanted: Any) -> tuple[Any, Any] | None:
    """The two as values that compare: numbers, date-times, strings or booleans alike."""
    if isinstance(wanted, datetime):
        moment = _moment(have)
        return (moment, wanted) if moment is not None else None
    if isinstance(wanted, bool) or isinstance(have, bool):
        return (have, wanted) if isinstance(have, bool) and isinstance(wanted, bool) else None
    if isinstance(wanted, float):
        return (float(have), wanted) if isinstance(have, int | float) else None
    if isinstance(wanted, str):
        return (have, wanted) if isinstance(have, str) else None
    return None


def _compare(have: Any, op: str, wanted: Any) -> bool:
    if isinstance(have, list):  # a multi-valued value meets the query when any item does
        return any(_compare(item, op, wanted) for item in have) if op != "!=" else \
            all(_compare(item, op, wanted) for item in have)  # fmt: skip
    if op in ("~=", "!~="):
        hit = isinstance(have, str) and wanted.search(have) is not None
        return hit if op == "~=" else not hit
    if op in ("==", "!="):
        if isinstance(wanted, Range):
            low, high = _same_kind(have, wanted.low), _same_kind(have, wanted.high)
            equal = low is not None and high is not None and low[1] <= low[0] <= high[1]
        elif isinstance(wanted, tuple):
            equal = any(_compare(have, "==", w) for w in wanted)
        else:
            pair = _same_kind(have, wanted)
            equal = pair is not None and pair[0] == pair[1]
        return equal if op == "==" else not equal
    pair = _same_kind(have, wanted)
    if pair is None:
        return False
    a, b = pair
    return bool({">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op])


def holds(node: Node, attrs: dict[str, Any], follow: Follow | None = None) -> bool:
    """Whether an entity's attributes (IRIs as names, normalized) meet the expanded query;
    ``follow`` finds the entities that Relationships link to (without it, a linked path
    never holds)."""
    if isinstance(node, Junction):
        results = (holds(p, attrs, follow) for p in node.parts)
        return all(results) if node.kind == "and" else any(results)
    held = attrs.get(node.path.attribute)
    if isinstance(held, list):  # several instances (datasetId, or a history): any of them
        if not held:
            return node.negated
        found = [holds(node, {**attrs, node.path.attribute: one}, follow) for one in held]
        return all(found) if node.negated else any(found)
    if node.path.linked is not None:
        return _holds_linked(node, held, follow)
    have = _target(attrs, node.path)
    if node.negated:
        return have is _MISSING
    if node.op is None:
        return have is not _MISSING
    if have is _MISSING:
        return False
    if node.op in ORDERING and not node.path.sub and isinstance(held, dict) and \
            held.get("type") in ("Relationship", "ListRelationship"):  # fmt: skip
        return False  # an object is not ordered: an ordering operator never matches (4.9)
    return _compare(have, node.op, node.value)
