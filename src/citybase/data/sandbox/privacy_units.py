"""The privacy unit (隐私单位) of a query's rows: with a declaration's ``privacy_unit`` =
``person``, a row linked to a person file of the base library (一人一档) counts for that
person, whatever identifier it carries — one person under two citizen IDs (an old 15-digit
number and the new one, a typo) is bounded once. Rows not linked count by the identifier
column, as with ``identifier``.

The base library gives, through its service, the pairs (identifier as the traced read masks
it, person id) of the resource's linked rows. Values and persons that share a pair are one
component (union-find): a masked identifier shared by two persons (at 一般数据 3 级 the ID is
cut to its ends) makes them one privacy unit, so the bound only ever gets tighter."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from citybase.data.baselib import service as baselib
from citybase.data.catalog import service as catalog
from citybase.data.masking import operators as ops
from citybase.data.masking import service as masking
from citybase.data.sandbox.models import SandboxDeclaration
from citybase.data.sandbox.schemas import PrivacyUnit

PERSON = "一人一档:"  # the prefix of a person's privacy unit: no identifier value starts so


def person_units(session: Session, declared: SandboxDeclaration, keys: ops.Keys) -> dict[str, str]:
    """Each masked identifier value of a linked row → its privacy unit (``一人一档:<id>``, the
    smallest person id of its component). Empty when the rows are not linked."""
    column = declared.identifier
    resource = catalog.get_resource(session, declared.resource_code)
    mask = masking.Masker(masking.plan_for(session, resource.code, resource), keys, [column])

    def masked(value: Any) -> str | None:
        if value is None or value == "":
            return None
        return str(mask.row({column: value}).get(column))

    pairs = baselib.person_ids_of_rows(session, resource.code, column, masked)
    parent: dict[tuple[str, Any], tuple[str, Any]] = {}

    def find(node: tuple[str, Any]) -> tuple[str, Any]:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for value, person in pairs:
        a, b = find(("value", value)), find(("person", person))
        if a != b:
            parent[max(a, b)] = min(a, b)
    smallest: dict[tuple[str, Any], int] = {}
    for _, person in pairs:
        root = find(("person", person))
        smallest[root] = min(smallest.get(root, person), person)
    return {value: f"{PERSON}{smallest[find(('value', value))]}" for value, _ in pairs}


def apply(
    session: Session, declared: SandboxDeclaration, rows: list[dict[str, Any]], keys: ops.Keys
) -> int:
    """Replace, in place, each linked row's identifier by its person's privacy unit when the
    declaration bounds per person; returns how many rows were so counted."""
    if (declared.privacy_unit or PrivacyUnit.person.value) != PrivacyUnit.person.value:
        return 0
    units = person_units(session, declared, keys)
    if not units:
        return 0
    column, counted = declared.identifier, 0
    for row in rows:
        unit = units.get(str(row.get(column)))
        if unit is not None:
            row[column] = unit
            counted += 1
    return counted
