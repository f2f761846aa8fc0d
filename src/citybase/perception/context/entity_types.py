"""The types of NGSI-LD entities (ETSI GS CIM 009, 4.6.3 and 4.17): an entity has one type or
several, given as a string or an array; each is filed in ``perception_entity_types`` so that
a query by type — a name, a list (``A,B`` or ``A|B``: any of them) or an expression (``(A;B)``:
all of them) — is answered through that table's index, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from citybase.perception.context import attributes, jsonld
from citybase.perception.context.errors import BadRequestData
from citybase.perception.context.models import ContextEntity, EntityState, EntityType, type_list

TYPE_NAME = re.compile(r"^[^\d\s]")


def given_types(kind: Any) -> list[str]:
    """The type member of a body — a name or a non-empty array of names — as a list of names,
    each once, in the order given."""
    listed = kind if isinstance(kind, list) else [kind]
    if not listed:
        raise BadRequestData("type is needed, a name or an array of names", field="type")
    for name in listed:
        if not isinstance(name, str) or not name:
            raise BadRequestData("type is needed, a name or an array of names", field="type")
        if not TYPE_NAME.match(name) and not attributes.URI.match(name):
            raise BadRequestData(f"type {name!r} is not a valid name", field="type")
    return list(dict.fromkeys(listed))


def set_types(entity: ContextEntity | EntityState, iris: list[str]) -> None:
    """The entity's types become these (IRIs, the first its ``type``)."""
    entity.type = iris[0]
    entity.types = list(iris) if len(iris) > 1 else None


def add_types(entity: ContextEntity | EntityState, iris: Iterable[str]) -> bool:
    """These types join the entity's (types are only ever added by an update); whether any did."""
    held = type_list(entity)
    new = [t for t in iris if t not in held]
    if new:
        set_types(entity, held + new)
    return bool(new)


def file(session: Session, entities: Mapping[str, list[str]], *, fresh: bool = False) -> None:
    """File each entity under each of its types (``fresh``: entities never filed before)."""
    if not entities:
        return
    table = EntityType.__table__
    assert isinstance(table, Table)
    ids = list(entities)
    if not fresh:
        for start in range(0, len(ids), 500):
            session.execute(delete(table).where(table.c.entity_id.in_(ids[start : start + 500])))
    session.execute(insert(table), [{"entity_id": i, "type": t}
                                    for i, kinds in entities.items() for t in kinds])  # fmt: skip


# --- type expressions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeJunction:
    kind: str  # "and" or "or"
    parts: tuple[TypeNode, ...]


TypeNode = str | TypeJunction


def parse(text: str) -> TypeNode:
    """A type selector: names joined by ``,`` or ``|`` (any of them) and ``;`` (all of them),
    grouped by parentheses; ``;`` binds tighter."""
    tokens = re.findall(r"[();,|]|[^();,|]+", text.replace(" ", ""))
    position = 0

    def either() -> TypeNode:
        nonlocal position
        parts = [both()]
        while position < len(tokens) and tokens[position] in (",", "|"):
            position += 1
            parts.append(both())
        return parts[0] if len(parts) == 1 else TypeJunction("or", tuple(parts))

    def both() -> TypeNode:
        nonlocal position
        parts = [single()]
        while position < len(tokens) and tokens[position] == ";":
            position += 1
            parts.append(single())
        return parts[0] if len(parts) == 1 else TypeJunction("and", tuple(parts))

    def single() -> TypeNode:
        nonlocal position
        if position >= len(tokens):
            raise BadRequestData(f"type {text!r} ends too soon", field="type")
        part = tokens[position]
        position += 1
        if part == "(":
            inner = either()
            if position >= len(tokens) or tokens[position] != ")":
                raise BadRequestData(f"type {text!r}: a ( is not closed", field="type")
            position += 1
            return inner
        if part in (")", ",", "|", ";"):
            raise BadRequestData(f"type {text!r}: unexpected {part!r}", field="type")
        given_types(part)
        return str(part)

    found = either()
    if position != len(tokens):
        raise BadRequestData(f"type {text!r}: unexpected {tokens[position]!r}", field="type")
    return found


def names(node: TypeNode) -> set[str]:
    return {node} if isinstance(node, str) else {n for p in node.parts for n in names(p)}


def selector(types: list[str], context: list[Any]) -> tuple[TypeNode, dict[str, str]]:
    """The ``type`` parameter (as split on commas) parsed, and its names' IRIs."""
    node = parse(",".join(types))
    return node, jsonld.expand_names(context, set(), names(node))[1]


def holds(node: TypeNode, iris: dict[str, str], held: Iterable[str]) -> bool:
    """Whether an entity of these types meets the selector."""
    kinds = set(held)
    if isinstance(node, str):
        return iris.get(node, node) in kinds
    results = (holds(p, iris, kinds) for p in node.parts)
    return all(results) if node.kind == "and" else any(results)


def clause(node: TypeNode, iris: dict[str, str], entity_id: Any = ContextEntity.id) -> Any:
    """The selector as a SQL condition on the entity's id: names of an ``or`` as one ``IN``
    on the types' index, an ``and`` as one such condition per part."""
    if isinstance(node, str) or (node.kind == "or" and all(isinstance(p, str) for p in node.parts)):
        chosen = [iris.get(n, n) for n in sorted(names(node))]
        return entity_id.in_(select(EntityType.entity_id).where(EntityType.type.in_(chosen)))
    parts = [clause(p, iris, entity_id) for p in node.parts]
    return and_(*parts) if node.kind == "and" else or_(*parts)


def of_types(iris: Iterable[str], entity_id: Any = ContextEntity.id) -> Any:
    """Entities of any of these types (IRIs), as a SQL condition on their id."""
    return entity_id.in_(select(EntityType.entity_id).where(EntityType.type.in_(sorted(iris))))
