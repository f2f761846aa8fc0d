"""ODRL 2.2 usage policies: compiled once, refused with the path of the part at fault, and
decided with the rule that allowed or refused a delivery named."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from citybase.core.errors import InvalidInput
from citybase.data.products.policies import (
    CompiledPolicy,
    PolicyError,
    UsageRequest,
    compile_policy,
    compiled,
    decide,
)

AT = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def contract(**extra: Any) -> dict[str, Any]:
    """A contract's terms as an operator signs them: use and aggregate for traffic planning in
    Fuzhou until the end of 2026, at most 1,000 calls and 50,000 rows, never passed on, deleted
    when the term ends."""
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Agreement",
        "uid": "urn:citybase:contract:HT2026000001",
        "assigner": "fz.transport",
        "assignee": "op.gaode",
        "target": "urn:citybase:product:traffic-flow",
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"leftOperand": "purpose", "operator": "isAnyOf",
                     "rightOperand": ["交通规划", "拥堵治理"]},
                    {"leftOperand": "dateTime", "operator": "lt",
                     "rightOperand": {"@value": "2027-01-01T00:00:00+08:00",
                                      "@type": "xsd:dateTime"}},
                    {"leftOperand": "count", "operator": "lteq", "rightOperand": 1000},
                    {"leftOperand": "citybase:rows", "operator": "lteq", "rightOperand": 50000},
                    {"leftOperand": "spatial", "operator": "isPartOf", "rightOperand": "fz"},
                ],
                "duty": [{"action": "attribute"}],
            }
        ],
        "prohibition": [{"action": "distribute"}, {"action": "transfer"}],
        "obligation": [
            {"action": "delete", "constraint": [
                {"leftOperand": "dateTime", "operator": "gteq",
                 "rightOperand": "2027-01-01T00:00:00+08:00"}]}
        ],
        **extra,
    }  # fmt: skip


def ask(**kw: Any) -> UsageRequest:
    base: dict[str, Any] = {
        "action": "use", "at": AT, "purpose": "交通规划", "region": "fz.gulou", "calls": 10,
        "rows": 1000, "rows_asked": 100, "assignee": "op.gaode",
    }  # fmt: skip
    return UsageRequest(**(base | kw))


@pytest.fixture
def policy() -> CompiledPolicy:
    return compile_policy(contract())


def test_a_delivery_within_the_terms_is_allowed_by_its_permission(policy: CompiledPolicy) -> None:
    decision = decide(policy, ask())
    assert decision.allowed, decision
    assert decision.rule == "permission[0]"
    assert [(d.rule, d.action) for d in decision.duties] == [
        ("permission[0].duty[0]", "attribute"), ("obligation[0]", "delete"),
    ]  # fmt: skip
    assert decision.duties[1].constraints == ("dateTime gteq 2026-12-31T16:00:00+00:00",)


def test_a_sub_action_of_use_is_permitted_by_use(policy: CompiledPolicy) -> None:
    assert decide(policy, ask(action="aggregate")).allowed
    assert decide(policy, ask(action="read")).allowed


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"purpose": "商业营销"}, "permission[0].constraint[0] (purpose isAnyOf [交通规划, 拥堵治理])"),
        ({"at": datetime(2027, 1, 1, tzinfo=UTC)},
         "permission[0].constraint[1] (dateTime lt 2026-12-31T16:00:00+00:00)"),
        ({"calls": 1000}, "permission[0].constraint[2] (count lteq 1000)"),
        ({"rows": 49_950}, "permission[0].constraint[3] (citybase:rows lteq 50000)"),
        ({"region": "xm.siming"}, "permission[0].constraint[4] (spatial isPartOf fz)"),
        ({"region": "fzx"}, "permission[0].constraint[4] (spatial isPartOf fz)"),
    ],
)  # fmt: skip
def test_a_delivery_outside_the_terms_names_the_constraint(
    policy: CompiledPolicy, change: dict[str, Any], rule: str
) -> None:
    decision = decide(policy, ask(**change))
    assert not decision.allowed
    assert decision.rule == rule
    assert decision.duties == []


def test_the_limits_hold_up_to_their_last_unit(policy: CompiledPolicy) -> None:
    assert decide(policy, ask(calls=999)).allowed  # the 1,000th call
    assert decide(policy, ask(rows=49_900, rows_asked=100)).allowed  # the 50,000th row
    assert not decide(policy, ask(rows=49_900, rows_asked=101)).allowed


def test_onward_transfer_is_prohibited_and_the_prohibition_named(policy: CompiledPolicy) -> None:
    decision = decide(policy, ask(action="distribute"))
    assert (decision.allowed, decision.rule) == (False, "prohibition[0]")
    assert decide(policy, ask(action="sell")).rule == "prohibition[1]"  # sell is a transfer


def test_another_assignee_is_refused(policy: CompiledPolicy) -> None:
    decision = decide(policy, ask(assignee="op.other"))
    assert (decision.allowed, decision.rule) == (False, "assignee")


def test_an_action_no_permission_covers_is_refused() -> None:
    policy = compile_policy(contract(permission=[{"action": "display"}]))
    decision = decide(policy, ask(action="reproduce"))
    assert (decision.allowed, decision.rule) == (False, "permission")
    assert decide(policy, ask(action="display")).allowed


def test_conflict_perm_lets_a_permission_override_a_prohibition() -> None:
    terms = {"permission": [{"action": "distribute"}], "prohibition": [{"action": "use"}]}
    assert decide(compile_policy(contract(**terms)), ask(action="distribute")).rule == (
        "prohibition[0]"
    )
    allowed = decide(compile_policy(contract(conflict="perm", **terms)), ask(action="distribute"))
    assert (allowed.allowed, allowed.rule) == (True, "permission[0]")


def test_logical_constraints() -> None:
    either = {"or": [
        {"leftOperand": "citybase:scenario", "operator": "eq", "rightOperand": "信号配时"},
        {"leftOperand": "purpose", "operator": "eq", "rightOperand": "交通规划"},
    ]}  # fmt: skip
    policy = compile_policy(contract(permission=[{"action": "use", "constraint": [either]}]))
    assert decide(policy, ask(purpose="其他", scenario="信号配时")).allowed
    assert decide(policy, ask()).allowed
    refused = decide(policy, ask(purpose="其他"))
    assert refused.rule == (
        "permission[0].constraint[0] ((citybase:scenario eq 信号配时) or (purpose eq 交通规划))"
    )
    both = {"and": {"@list": [either["or"][0], either["or"][1]]}}
    policy = compile_policy(contract(permission=[{"action": "use", "constraint": [both]}]))
    assert not decide(policy, ask()).allowed
    assert decide(policy, ask(scenario="信号配时")).allowed
    one = {"xone": either["or"]}
    policy = compile_policy(contract(permission=[{"action": "use", "constraint": [one]}]))
    assert not decide(policy, ask(scenario="信号配时")).allowed
    assert decide(policy, ask(scenario="")).allowed


def test_the_same_policy_by_iri_and_by_prefix_decides_the_same() -> None:
    odrl = "http://www.w3.org/ns/odrl/2/"
    by_iri = {
        "@type": f"{odrl}Agreement", "@id": "urn:x:1",
        f"{odrl}assigner": {"@id": "fz.transport"}, f"{odrl}assignee": "op.gaode",
        f"{odrl}permission": [{
            f"{odrl}action": {"@id": f"{odrl}use"},
            f"{odrl}constraint": [{
                f"{odrl}leftOperand": {"@id": f"{odrl}count"},
                f"{odrl}operator": {"@id": f"{odrl}lteq"},
                f"{odrl}rightOperand": {"@value": "5"},
            }],
        }],
    }  # fmt: skip
    by_prefix = {
        "@context": ["https://w3id.org/dspace/2024/1/context.json", {"odrl": odrl}],
        "@type": "odrl:Agreement", "@id": "urn:x:1",
        "odrl:assigner": "fz.transport", "odrl:assignee": "op.gaode",
        "odrl:permission": {
            "odrl:action": "odrl:use",
            "odrl:constraint": {"odrl:leftOperand": "odrl:count", "odrl:operator": "odrl:lteq",
                                "odrl:rightOperand": 5},
        },
    }  # fmt: skip
    for policy in (compile_policy(by_iri), compile_policy(by_prefix)):
        assert decide(policy, ask(calls=4)).allowed
        assert decide(policy, ask(calls=5)).rule == "permission[0].constraint[0] (count lteq 5)"


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"permission": [{"action": "use", "constraint": [
            {"leftOperand": "use", "operator": "eq", "rightOperand": "x"},
            {"leftOperand": "colour", "operator": "eq", "rightOperand": "red"}]}]},
         "permission[0].constraint[0].leftOperand", "unknown left operand 'use'"),
        ({"permission": [{"action": "use", "constraint": [
            {"leftOperand": "count", "operator": "lteq", "rightOperand": 5},
            {"leftOperand": "count", "operator": "within", "rightOperand": 5}]}]},
         "permission[0].constraint[1].operator", "unknown operator 'within'"),
        ({"permission": [{"action": "use", "constraint": [
            {"leftOperand": "purpose", "operator": "lt", "rightOperand": "x"}]}]},
         "permission[0].constraint[0].operator", "purpose cannot be compared with lt"),
        ({"permission": [{"action": "teleport"}]}, "permission[0].action", "unknown action"),
        ({"permission": [{"action": "use", "constraints": []}]}, "permission[0].constraints",
         "unknown property"),
        ({"permission": [{"action": "use", "constraint": [
            {"leftOperand": "count", "operator": "lteq", "rightOperand": "many"}]}]},
         "permission[0].constraint[0].rightOperand", "whole number"),
        ({"permission": [{"action": "use", "constraint": [
            {"leftOperand": "dateTime", "operator": "lt", "rightOperand": "2027-01-01T00:00"}]}]},
         "permission[0].constraint[0].rightOperand", "no time zone"),
        ({"permission": [{"action": "use", "constraint": [
            {"leftOperand": "count", "operator": "lteq"}]}]},
         "permission[0].constraint[0].rightOperand", "missing"),
        ({"permission": [{"action": {"rdf:value": {"@id": "odrl:use"}, "refinement": []}}]},
         "permission[0].action.refinement", "not supported"),
        ({"prohibition": [{"action": "use", "duty": [{"action": "delete"}]}]},
         "prohibition[0].duty", "has no duties"),
        ({"permission": [{"action": "use", "remedy": [{"action": "delete"}]}]},
         "permission[0].remedy", "only a prohibition has remedies"),
        ({"@type": "Ticket"}, "@type", "not a policy type"),
        ({"assignee": None}, "assignee", "an Agreement names its assignee"),
        ({"@context": "https://example.com/context.jsonld"}, "@context", "unknown context"),
        ({"@context": {"use": "https://example.com/steal"}}, "@context.use", "may only declare"),
    ],
)  # fmt: skip
def test_a_policy_that_does_not_parse_is_refused_naming_the_part(
    change: dict[str, Any], path: str, words: str
) -> None:
    terms = contract(**change)
    if terms.get("assignee", "") is None:
        del terms["assignee"]
    with pytest.raises(PolicyError) as caught:
        compile_policy(terms)
    assert caught.value.path == path
    assert words in caught.value.reason
    assert caught.value.to_dict()["field"] == path
    assert caught.value.status_code == 422


def test_a_bare_date_is_the_citys_day() -> None:
    policy = compile_policy(contract(permission=[{"action": "use", "constraint": [
        {"leftOperand": "dateTime", "operator": "lt",
         "rightOperand": {"@value": "2026-06-02", "@type": "xsd:date"}}]}]))  # fmt: skip
    assert decide(policy, ask(at=datetime(2026, 6, 1, 15, 59, tzinfo=UTC))).allowed
    assert not decide(policy, ask(at=datetime(2026, 6, 1, 16, 0, tzinfo=UTC))).allowed


def test_a_compiled_policy_is_kept_by_its_key() -> None:
    first = compiled("HT2026000001@1", contract())
    assert compiled("HT2026000001@1", {"not": "read again"}) is first
    changed = compiled("HT2026000001@2", contract(prohibition=[{"action": "aggregate"}]))
    assert changed is not first
    assert decide(changed, ask(action="aggregate")).rule == "prohibition[0]"
    with pytest.raises(PolicyError):
        compiled("HT2026000002@1", contract(permission=[{"action": "teleport"}]))


def test_a_delivery_without_a_time_zone_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        ask(at=datetime(2026, 6, 1, 9, 0))  # noqa: DTZ001 - the mistake refused
    assert caught.value.field == "at"
