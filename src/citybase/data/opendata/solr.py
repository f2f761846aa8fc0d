"""The part of Solr's query syntax that CKAN clients send in ``package_search``'s ``q`` and ``fq``.

``field:value``, ``field:"a phrase"``, ranges (``field:[a TO b]``, ``{a TO b}``, ``*`` for an
open end), wildcards in values (``res_format:CS*``), negation (``-clause``, ``NOT clause``,
``!clause``), required clauses (``+clause``), ``AND``/``OR``/``&&``/``||``, parentheses,
``field:(a OR b)``, and ``*:*``. Clauses side by side must all match. The parser builds a small tree; matching a dataset against it is the caller's
business, through :class:`Matcher`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol


class QueryError(ValueError):
    """The query cannot be parsed; the message says where."""


@dataclass(frozen=True)
class Term:
    field: str | None  # None: free text
    value: str
    phrase: bool = False


@dataclass(frozen=True)
class Range:
    field: str
    low: str | None  # None: open (``*``)
    high: str | None
    low_inclusive: bool = True
    high_inclusive: bool = True


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class All:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Any_:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Everything:
    pass


Node = Term | Range | Not | All | Any_ | Everything

_FIELD = re.compile(r"[A-Za-z_][\w.]*")
_RANGE = re.compile(r"([\[{])\s*(.*?)\s+TO\s+(.*?)\s*([\]}])", re.S)


@dataclass(frozen=True)
class _Token:
    kind: str  # ( ) AND OR NOT + - FIELD WORD PHRASE RANGE
    text: str = ""
    range: Range | None = None


def _tokens(query: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append(_Token(c))
            i += 1
        elif c == '"':
            end = i + 1
            while end < n and query[end] != '"':
                end += 2 if query[end] == "\\" else 1
            if end >= n:
                raise QueryError(f"unclosed quote at {i}")
            out.append(_Token("PHRASE", _unescape(query[i + 1 : end])))
            i = end + 1
        elif c in "[{":
            found = _RANGE.match(query, i)
            if not found:
                raise QueryError(f"a range is [low TO high] (at {i})")
            low, high = found.group(2), found.group(3)
            out.append(_Token("RANGE", range=Range(
                "", None if low == "*" else _unescape(low.strip('"')),
                None if high == "*" else _unescape(high.strip('"')),
                found.group(1) == "[", found.group(4) == "]",
            )))  # fmt: skip
            i = found.end()
        elif c in "+-!" and i + 1 < n and not query[i + 1].isspace():
            out.append(_Token("NOT" if c in "-!" else "+"))
            i += 1
        elif query.startswith(("&&", "||"), i):
            out.append(_Token("AND" if c == "&" else "OR"))
            i += 2
        else:
            end, word = i, []
            while end < n and not query[end].isspace() and query[end] not in "()":
                if query[end] == "\\" and end + 1 < n:
                    word.append(query[end : end + 2])
                    end += 2
                    continue
                if query[end] == ":" and word:
                    name = "".join(word)
                    if name == "*" or _FIELD.fullmatch(name):
                        out.append(_Token("FIELD", name))
                        word = []
                        end += 1
                        break
                word.append(query[end])
                end += 1
            text = "".join(word)
            if text in ("AND", "OR", "NOT"):
                out.append(_Token(text))
            elif text:
                out.append(_Token("WORD", _unescape(text)))
            i = end
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends too soon")
        self.at += 1
        return token

    def sequence(self, field: str | None) -> Node:
        """Clauses side by side: all must match (``q.op=AND``). ``OR`` binds tighter than
        juxtaposition, so ``organization:a OR organization:b metadata_modified:[x TO *]`` (the
        shape a harvester sends) is (a or b) and modified since x; ``AND`` binds tighter
        than ``OR``."""
        nodes = [self.any_(field)]
        while (token := self.peek()) is not None and token.kind != ")":
            nodes.append(self.any_(field))
        return nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def any_(self, field: str | None) -> Node:
        nodes = [self.all_(field)]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            nodes.append(self.all_(field))
        return nodes[0] if len(nodes) == 1 else Any_(tuple(nodes))

    def all_(self, field: str | None) -> Node:
        nodes = [self.unary(field)]
        while (token := self.peek()) is not None and token.kind == "AND":
            self.take()
            nodes.append(self.unary(field))
        return nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def unary(self, field: str | None) -> Node:
        token = self.take()
        if token.kind == "NOT":
            return Not(self.unary(field))
        if token.kind == "+":
            return self.unary(field)
        if token.kind == "(":
            node = self.sequence(field)
            if self.take().kind != ")":
                raise QueryError("a parenthesis is not closed")
            return node
        if token.kind == "FIELD":
            if token.text == "*":
                value = self.take()
                if value.kind != "WORD" or value.text != "*":
                    raise QueryError("*: is only *:*")
                return Everything()
            return self.unary(token.text)
        if token.kind == "RANGE" and token.range is not None:
            if field is None:
                raise QueryError("a range needs a field (field:[a TO b])")
            r = token.range
            return Range(field, r.low, r.high, r.low_inclusive, r.high_inclusive)
        if token.kind in ("WORD", "PHRASE"):
            return Term(field, token.text, token.kind == "PHRASE")
        raise QueryError(f"unexpected {token.kind} {token.text}".strip())


def parse(query: str) -> Node:
    """The query's tree; an empty query (or ``*:*``) is :class:`Everything`."""
    tokens = _tokens(query)
    if not tokens:
        return Everything()
    parser = _Parser(tokens)
    node = parser.sequence(None)
    if parser.peek() is not None:
        raise QueryError(f"unexpected {parser.take().kind}")
    return node


def fields_of(node: Node) -> set[str]:
    """Every field the query names."""
    if isinstance(node, Term):
        return {node.field} if node.field else set()
    if isinstance(node, Range):
        return {node.field}
    if isinstance(node, Not):
        return fields_of(node.node)
    if isinstance(node, All | Any_):
        return set().union(*(fields_of(n) for n in node.nodes))
    return set()


def texts_of(node: Node) -> list[str]:
    """Every free-text term of the query (matched by the catalog's own search)."""
    if isinstance(node, Term):
        return [node.value] if node.field is None else []
    if isinstance(node, Not):
        return texts_of(node.node)
    if isinstance(node, All | Any_):
        return [t for n in node.nodes for t in texts_of(n)]
    return []


class Matcher(Protocol):
    def term(self, field: str, value: str, phrase: bool) -> bool: ...
    def range(self, field: str, low: str | None, high: str | None, lo_in: bool, hi_in: bool) -> bool: ...  # fmt: skip
    def text(self, value: str) -> float | None: ...


def score(node: Node, doc: Matcher) -> float | None:
    """``None`` if the dataset does not match; else its score (the sum of its free-text
    terms' scores; 1 for a match on fields alone)."""
    if isinstance(node, Everything):
        return 1.0
    if isinstance(node, Term):
        if node.field is None:
            return doc.text(node.value)
        return 1.0 if doc.term(node.field, node.value, node.phrase) else None
    if isinstance(node, Range):
        hit = doc.range(node.field, node.low, node.high, node.low_inclusive, node.high_inclusive)
        return 1.0 if hit else None
    if isinstance(node, Not):
        return 1.0 if score(node.node, doc) is None else None
    if isinstance(node, All):
        total = 0.0
        for child in node.nodes:
            found = score(child, doc)
            if found is None:
                return None
            total += found
        return total
    found_any = [s for s in (score(child, doc) for child in node.nodes) if s is not None]
    return sum(found_any) if found_any else None
