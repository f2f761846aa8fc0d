"""What the NGSI-LD store holds: its entity types and their attributes (ETSI GS CIM 009, 5.7.5
to 5.7.10)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.perception.context import attributes, jsonld
from citybase.perception.context.models import (
    ContextEntity,
)
from citybase.perception.context.service import EVERYONE, EXPIRES, SCOPE, ReadScope

NOT_ATTRIBUTES = {SCOPE, EXPIRES}  # core members kept beside the attributes


def types_and_attributes(session: Session, context: list[Any],
                         scope: ReadScope = EVERYONE) -> dict[str, list[str]]:  # fmt: skip
    """Each entity type (in the reader's terms) with the attribute names its entities have (an
    entity of several types counts under each)."""
    found: dict[str, set[str]] = {}
    stmt = select(ContextEntity.type, ContextEntity.types, ContextEntity.attrs)
    visible = scope.clause(ContextEntity.unit, entity_id=ContextEntity.id)
    if visible is not None:
        stmt = stmt.where(visible)
    for first, kinds, attrs in session.execute(stmt):
        for kind in kinds or [first]:
            found.setdefault(kind, set()).update(a for a in attrs if a not in NOT_ATTRIBUTES)
    names, types = jsonld.compact_names(context, {a for v in found.values() for a in v},
                                        set(found))  # fmt: skip
    return {types.get(k, k): sorted(names.get(a, a) for a in v) for k, v in sorted(found.items())}


def census(session: Session, context: list[Any], scope: ReadScope = EVERYONE,
           ) -> dict[str, tuple[int, dict[str, set[str]]]]:  # fmt: skip
    """Each entity type (IRI) held: how many entities (an entity of several types counts under
    each), and each attribute (IRI) with its kinds."""
    found: dict[str, tuple[int, dict[str, set[str]]]] = {}
    stmt = select(ContextEntity.type, ContextEntity.types, ContextEntity.attrs)
    visible = scope.clause(ContextEntity.unit, entity_id=ContextEntity.id)
    if visible is not None:
        stmt = stmt.where(visible)
    for first, kinds, attrs in session.execute(stmt):
        for kind in kinds or [first]:
            count, held = found.get(kind, (0, {}))
            for iri, attr in attrs.items():
                if iri not in NOT_ATTRIBUTES:
                    held.setdefault(iri, set()).update(
                        str(i.get("type")) for i in attributes.instances(attr)
                    )
            found[kind] = (count + 1, held)
    return found


def attribute_counts(session: Session, scope: ReadScope = EVERYONE) -> dict[str, int]:
    """How many entities hold each attribute (IRI)."""
    counts: dict[str, int] = {}
    stmt = select(ContextEntity.attrs)
    visible = scope.clause(ContextEntity.unit, entity_id=ContextEntity.id)
    if visible is not None:
        stmt = stmt.where(visible)
    for (attrs,) in session.execute(stmt):
        for iri in attrs:
            counts[iri] = counts.get(iri, 0) + 1
    return counts
