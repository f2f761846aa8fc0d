"""Projections (``pick``, ``omit``) and linked entities (``join``, ``joinLevel``) of the NGSI-LD
API (ETSI GS CIM 009, 4.5.23 and 4.21).

A projection is a list of members separated by ``,`` or ``|``; a member that is a Relationship
may carry, in braces, the projection of the entity it links to (``locatedAt{id,name}``), and so
on down to ``joinLevel`` levels. In ``pick``, ``locatedAt{name}`` keeps ``locatedAt`` and, of the
City it links to, only ``name``; in ``omit`` it keeps ``locatedAt`` and leaves out the City's
``name``. A linked entity without a projection of its own is shown whole."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from citybase.core.errors import CitybaseError
from citybase.perception.context import service
from citybase.perception.context.models import ContextEntity
from citybase.perception.context.service import BadRequestData

NAME = re.compile(r"^[^\s{}(),|;=<>\"']+$")

Tree = dict[str, "Tree | None"]  # a member, and the projection of the entity it links to


@dataclass(frozen=True)
class Projection:
    """What to show of an entity, and of the entities it links to."""

    pick: Tree | None = None  # None: every member
    omit: Tree = field(default_factory=dict)

    @property
    def picked(self) -> set[str] | None:
        return None if self.pick is None else set(self.pick)

    @property
    def omitted(self) -> set[str]:
        """Members left out here: those of ``omit`` without a projection of their own."""
        return {name for name, inner in self.omit.items() if inner is None}

    def of_link(self, name: str) -> Projection:
        """The projection of the entity linked through ``name``."""
        inner = self.pick.get(name) if self.pick is not None else None
        return Projection(inner, self.omit.get(name) or {})

    def apply(self, entity: dict[str, Any]) -> dict[str, Any]:
        picked, omitted = self.picked, self.omitted
        return {k: v for k, v in entity.items()
                if (picked is None or k in picked or k == "@context") and k not in omitted}  # fmt: skip


def parse_tree(text: str, field_name: str) -> tuple[Tree, int]:
    """A projection as a tree, and how many levels of linked entities it goes into."""
    position = 0

    def members() -> tuple[Tree, int]:
        nonlocal position
        tree: Tree = {}
        deepest = 0
        while True:
            start = position
            while position < len(text) and text[position] not in ",|{}":
                position += 1
            name = text[start:position]
            if not name or not NAME.match(name):
                raise BadRequestData(f"{field_name}: {name!r} is not a member name",
                                     field=field_name)  # fmt: skip
            inner: Tree | None = None
            if position < len(text) and text[position] == "{":
                position += 1
                inner, below = members()
                if position >= len(text) or text[position] != "}":
                    raise BadRequestData(f"{field_name}: a {{ is not closed", field=field_name)
                position += 1
                deepest = max(deepest, below + 1)
            if name in tree and (tree[name] is not None or inner is not None):
                raise BadRequestData(f"{field_name}: {name} is given twice", field=field_name)
            tree[name] = inner
            if position < len(text) and text[position] in ",|":
                position += 1
                continue
            return tree, deepest

    tree, deepest = members()
    if position != len(text):
        raise BadRequestData(f"{field_name}: a }} without its {{", field=field_name)
    return tree, deepest


def projection(pick: str | None, omit: str | None, attrs: str | None,
               joined: bool = False, levels: int = 1) -> Projection:  # fmt: skip
    """``pick`` and ``omit`` read; a projection into linked entities needs them joined, and
    goes no deeper than ``joinLevel``."""
    trees: dict[str, Tree | None] = {}
    for name, text in (("pick", pick), ("omit", omit)):
        if text is None:
            trees[name] = None
            continue
        tree, deep = parse_tree(text, name)
        if deep and not joined:
            raise BadRequestData("a projection into linked entities needs join", field=name)
        if deep > levels:
            raise BadRequestData(f"{name} goes deeper than joinLevel", field=name)
        trees[name] = tree
    found = Projection(trees["pick"], trees["omit"] or {})
    if (found.pick is not None or found.omit) and attrs is not None:
        raise BadRequestData("pick or omit, or attrs: not both", field="attrs")
    if found.picked is not None and found.picked & found.omitted:
        raise BadRequestData("a member is both picked and omitted", field="pick")
    return found


def join_mode(join: str | None, level: Any) -> tuple[str | None, int]:
    """``join`` (flat, inline, or @none: not joined) and ``joinLevel`` (1 if not given)."""
    if join is not None and join not in ("flat", "inline", "@none"):
        raise BadRequestData("join is flat, inline or @none", field="join")
    try:
        depth = int(level) if level is not None else 1
    except (TypeError, ValueError):
        raise BadRequestData("joinLevel is a whole number from 1", field="joinLevel") from None
    if depth < 1:
        raise BadRequestData("joinLevel is a whole number from 1", field="joinLevel")
    return (None if join == "@none" else join), depth


def join(session: Any, scope: Any, context: list[Any], found: list[dict[str, Any]],
         ids: list[str], mode: str, depth: int, form: str, lang: str | None, sys_attrs: bool = False,
         shown: Projection | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Linked entities: each Relationship's object entity put inside it (``inline``) or beside
    the entities (``flat``), to ``depth`` levels, each projected as ``shown`` says of it; with
    ``sys_attrs``, each with its own ``createdAt`` and ``modifiedAt`` as the linking entity has
    them (NGSI-LD 4.5.23). ``found`` are the linking entities, already projected, in the order
    of their ids (``ids``)."""
    beside: dict[str, dict[str, Any]] = {}

    def walk(entity: dict[str, Any], entity_id: Any, level: int, wanted: Projection) -> None:
        stored = session.get(ContextEntity, entity_id) if isinstance(entity_id, str) else None
        if stored is None:
            return
        normal = service.render_entity(stored, context)
        for name, attr in normal.items():
            if not isinstance(attr, dict) or attr.get("type") != "Relationship" or \
                    name not in entity:  # fmt: skip
                continue
            target = attr.get("object")
            if not isinstance(target, str):
                continue
            try:
                linked = service.retrieve(session, target, context, form=form, scope=scope,
                                          lang=lang, sys_attrs=sys_attrs)  # fmt: skip
            except CitybaseError:
                continue
            inner = wanted.of_link(name)
            linked = inner.apply(linked)
            if mode == "inline":
                if form == "keyValues":
                    entity[name] = linked
                elif isinstance(entity[name], dict):
                    entity[name]["entity"] = linked
            elif target not in ids:  # level by level: an entity before those it links to
                beside.setdefault(target, linked)
            if level < depth:
                walk(linked, target, level + 1, inner)

    for entity, entity_id in zip(found, ids, strict=True):
        walk(entity, entity_id, 1, shown or Projection())
    return found + list(beside.values())
