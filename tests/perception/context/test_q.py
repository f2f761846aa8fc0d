"""The NGSI-LD query language (ETSI GS CIM 009, 4.9): value lists, language filters and
relationships under ordering operators."""

from __future__ import annotations

from typing import Any

import pytest

from citybase.perception.context import query

ATTRS: dict[str, Any] = {
    "name": {"type": "Property", "value": "Pisa Tower"},
    "level": {"type": "Property", "value": 4},
    "tags": {"type": "Property", "value": ["old", "tilted"]},
    "color": {"type": "LanguageProperty", "languageMap": {"en": "red", "fr": "rouge"}},
    "managedBy": {"type": "Relationship", "object": "urn:ngsi-ld:Org:pisa"},
}


def _holds(q: str) -> bool:
    return query.holds(query.parse(q), ATTRS)


@pytest.mark.parametrize(("q", "expected"), [
    ('name=="Eiffel Tower","Pisa Tower"', True),   # any of the listed values
    ('name!="Eiffel Tower","Big Ben"', True),      # none of them
    ('name!="Eiffel Tower","Pisa Tower"', False),
    ("level==3,4,5", True),
    ('tags=="new","tilted"', True),                # a list target meets a list when any item does
    ('color[en]=="red"', True),                    # the addressed language only
    ('color[en]=="rouge"', False),
    ('color[*]=="rouge"', True),                   # any language
    ('color[*]!="red"', False),                    # no language may hold it
    ("color[de]", False),
    ('managedBy>"urn:a"', False),                  # an object is not ordered
    ('managedBy=="urn:ngsi-ld:Org:pisa"', True),
])  # fmt: skip
def test_value_lists_languages_and_relationships(q: str, expected: bool) -> None:
    assert _holds(q) is expected


@pytest.mark.parametrize("q", ["level>3,4", 'name=="a",', 'name~="a","b"', "level>4..5"])
def test_a_list_or_range_with_another_operator_is_refused(q: str) -> None:
    with pytest.raises(query.QueryError):
        query.parse(q)


LINKED = {
    "urn:ngsi-ld:Org:pisa": (
        {"Building"},
        {
            "name": {"type": "Property", "value": "Opera"},
            "city": {"type": "Relationship", "object": "urn:ngsi-ld:City:pisa"},
        },
    ),
    "urn:ngsi-ld:City:pisa": ({"City"}, {"name": {"type": "Property", "value": "Pisa"}}),
}


@pytest.mark.parametrize(("q", "depth", "expected"), [
    ('managedBy{name}=="Opera"', 1, True),
    ('managedBy{name}=="Pisa Tower"', 1, False),        # the linked entity's name, not its own
    ('managedBy{Building:name}=="Opera"', 1, True),     # a type hint the target has
    ('managedBy{Vehicle:name}=="Opera"', 1, False),     # one it has not
    ('managedBy{city{name}}=="Pisa"', 2, True),
    ("managedBy{height}", 1, False),
    ("!managedBy{height}", 1, True),
    ('name=="Pisa Tower";managedBy{name}~="Op"', 1, True),
])  # fmt: skip
def test_a_linked_path_follows_the_relationship(q: str, depth: int, expected: bool) -> None:
    node = query.parse(q)
    assert query.depth(node) == depth
    assert query.holds(node, ATTRS, lambda i: LINKED.get(i)) is expected
    if isinstance(node, query.Term) and not node.negated:  # without a way to follow
        assert query.holds(node, ATTRS) is False


@pytest.mark.parametrize("q", ['managedBy{name=="a"', "managedBy{}", 'managedBy[x]{name}=="a"'])
def test_a_malformed_linked_path_is_refused(q: str) -> None:
    with pytest.raises(query.QueryError):
        query.parse(q)
