"""Contracts from negotiation: the Dataspace Protocol's states in order, the ODRL Agreement made
from the offer, the ledger, revocation and expiry, and every party kept to its side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.products import policies, service
from citybase.data.products.models import ProductContract, ProductNegotiation
from citybase.data.products.schemas import (
    ContractAction,
    NegotiationCreate,
    ProductAction,
    Termination,
)
from tests.data.products.factories import (
    add_customers,
    contract_for,
    days,
    listed_product,
    products_city,
    terms,
)


def _city(session: Session, settings: Settings):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    add_customers(session, city)
    return city, listed_product(session, city)


def _ask(session: Session, city, product_id: int, who: str = "cua"):  # type: ignore[no-untyped-def]
    return service.request_product(
        session, city.people[who], product_id, NegotiationCreate(purpose="城市治理")
    )


def _actions(session: Session, object_id: str) -> list[str]:
    return list(
        session.scalars(
            select(LedgerEntry.action)
            .where(LedgerEntry.object_id == object_id)
            .order_by(LedgerEntry.seq)
        )
    )


def test_a_negotiation_runs_through_the_protocol_states_to_a_contract(
    session: Session, settings: Settings
) -> None:
    city, product_id = _city(session, settings)
    s = settings.products
    asked = _ask(session, city, product_id)
    assert asked.state == "dspace:REQUESTED"
    assert asked.provider_pid.startswith("urn:uuid:")
    assert asked.purposes == ["城市治理"]
    offered = service.offer_terms(session, city.people["opa"], s, asked.id, terms())
    assert offered.state == "dspace:OFFERED"
    assert service.accept_offer(session, city.people["cua"], s, asked.id).state == "dspace:ACCEPTED"
    agreed = service.agree_contract(session, city.people["opa"], s, asked.id, None)
    assert agreed.state == "dspace:AGREED"
    agreement = agreed.agreement
    assert agreement is not None
    assert agreement["@type"] == "Agreement"
    assert agreement["assignee"] == "urn:citybase:unit:cu.gamma"
    assert agreement["assigner"] == "urn:citybase:unit:op.alpha"
    compiled = policies.compile_policy(agreement)
    labels = [c.label for c in compiled.permissions[0].constraints]
    assert "purpose isAnyOf [城市治理]" in labels
    assert "count lteq 100" in labels
    assert "citybase:rows lteq 1000" in labels
    done = service.verify_agreement(session, city.people["cua"], s, asked.id)
    assert done.state == "dspace:FINALIZED"
    assert [h.state for h in done.history] == [
        "dspace:REQUESTED", "dspace:OFFERED", "dspace:ACCEPTED", "dspace:AGREED",
        "dspace:VERIFIED", "dspace:FINALIZED",
    ]  # fmt: skip
    contract = service.get_accessible_contract(session, city.people["cua"], s, done.contract_id)
    assert contract.status.value == "in_force"
    assert contract.policy == agreement
    assert contract.ends_at > datetime.now(UTC) + timedelta(days=29)
    assert _actions(session, asked.provider_pid) == [
        "products.negotiation.requested", "products.negotiation.offered",
        "products.negotiation.accepted", "products.negotiation.agreed",
        "products.negotiation.verified", "products.negotiation.finalized",
    ]  # fmt: skip
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.object_id == contract.number))
    assert entry is not None
    assert entry.action == "products.contract.conclude"
    assert entry.details["agreement"]["uid"] == agreement["uid"]
    offered_entry = session.scalar(
        select(LedgerEntry).where(LedgerEntry.action == "products.negotiation.offered")
    )
    assert offered_entry is not None
    assert offered_entry.details["offer"]["@type"] == "Offer"
    assert service.count_contracts(session) == 1


def test_the_provider_may_agree_to_a_request_directly_with_its_terms(
    session: Session, settings: Settings
) -> None:
    city, product_id = _city(session, settings)
    s = settings.products
    asked = _ask(session, city, product_id)
    with pytest.raises(InvalidInput) as missing:
        service.agree_contract(session, city.people["opa"], s, asked.id, None)
    assert missing.value.field == "ends_on"
    agreed = service.agree_contract(session, city.people["opa"], s, asked.id, terms(max_calls=None))
    assert agreed.state == "dspace:AGREED"
    assert agreed.terms["max_calls"] is None


def test_a_message_out_of_turn_or_from_the_wrong_side_changes_nothing(
    session: Session, settings: Settings
) -> None:
    city, product_id = _city(session, settings)
    s = settings.products
    asked = _ask(session, city, product_id)
    with pytest.raises(Conflict) as early:  # accepting before any offer
        service.accept_offer(session, city.people["cua"], s, asked.id)
    assert "dspace:REQUESTED" in early.value.message
    with pytest.raises(Forbidden):  # the customer does not offer
        service.offer_terms(session, city.people["cua"], s, asked.id, terms())
    with pytest.raises(Forbidden):  # the provider does not verify
        service.verify_agreement(session, city.people["opa"], s, asked.id)
    row = session.get(ProductNegotiation, asked.id)
    assert row is not None
    assert row.state == "dspace:REQUESTED"
    assert len(row.history) == 1
    service.terminate_negotiation(session, city.people["cua"], s, asked.id,
                                  Termination(reason="不再需要"))  # fmt: skip
    with pytest.raises(Conflict):  # a terminated negotiation takes no message
        service.offer_terms(session, city.people["opa"], s, asked.id, terms())
    assert session.get(ProductNegotiation, asked.id).state == "dspace:TERMINATED"  # type: ignore[union-attr]


def test_other_companies_and_units_neither_see_nor_move_a_negotiation(
    session: Session, settings: Settings
) -> None:
    city, product_id = _city(session, settings)
    s = settings.products
    asked = _ask(session, city, product_id)
    for stranger in ("cud", "opb"):  # another customer, another operator
        with pytest.raises(NotFound):
            service.get_accessible_negotiation(session, city.people[stranger], s, asked.id)
        with pytest.raises(NotFound):
            service.terminate_negotiation(session, city.people[stranger], s, asked.id,
                                          Termination(reason="越权"))  # fmt: skip
        assert service.get_accessible_negotiations(session, city.people[stranger], s) == []
    # a government unit's user is no customer; nor is the operator of its own product
    for who in ("healthuser", "opa"):
        with pytest.raises(Forbidden) as refused:
            _ask(session, city, product_id, who)
        assert refused.value.details["rule"] == "contract.customer_company"
    assert session.get(ProductNegotiation, asked.id).state == "dspace:REQUESTED"  # type: ignore[union-attr]
    # the bureau sees it
    assert service.get_accessible_negotiation(session, city.bureau, s, asked.id).id == asked.id


def test_a_purpose_not_offered_an_unlisted_product_or_a_term_too_long_is_refused(
    session: Session, settings: Settings
) -> None:
    city, product_id = _city(session, settings)
    s = settings.products
    before = session.scalar(select(ProductNegotiation.id).order_by(ProductNegotiation.id.desc()))
    with pytest.raises(Forbidden) as purpose:
        service.request_product(session, city.people["cua"], product_id,
                                NegotiationCreate(purpose="精准营销"))  # fmt: skip
    assert purpose.value.details["rule"] == "contract.purpose"
    service.delist_product(session, city.bureau, s, product_id, ProductAction(reason="下架"))
    with pytest.raises(NotFound):
        _ask(session, city, product_id)
    assert session.scalar(select(ProductNegotiation.id)) == before
    other = listed_product(session, city, name="井盖巡查数据接口二")
    asked = _ask(session, city, other)
    with pytest.raises(InvalidInput) as long:
        service.offer_terms(session, city.people["opa"], s, asked.id, terms(ends_on=days(400)))
    assert long.value.details["rule"] == "contract.term"
    with pytest.raises(InvalidInput):
        service.offer_terms(session, city.people["opa"], s, asked.id, terms(ends_on=days(-1)))
    assert session.get(ProductNegotiation, asked.id).state == "dspace:REQUESTED"  # type: ignore[union-attr]


def test_a_contract_is_revoked_by_its_provider_or_the_bureau_only_and_expires_at_its_term(
    session: Session, settings: Settings
) -> None:
    city, product_id = _city(session, settings)
    s = settings.products
    first = contract_for(session, city, product_id)
    for who in ("cua", "opb", "cud"):
        with pytest.raises((Forbidden, NotFound)):
            service.revoke_contract(session, city.people[who], s, first, ContractAction(reason="x"))
    assert (
        service.get_accessible_contract(session, city.bureau, s, first).status.value == "in_force"
    )
    revoked = service.revoke_contract(session, city.people["opa"], s, first,
                                      ContractAction(reason="客户违约"))  # fmt: skip
    assert revoked.status.value == "revoked"
    assert revoked.revoke_reason == "客户违约"
    with pytest.raises(Conflict):
        service.revoke_contract(session, city.bureau, s, first, ContractAction(reason="again"))
    assert _actions(session, revoked.number)[-1] == "products.contract.revoke"
    second = contract_for(session, city, product_id, customer="cud")
    assert service.revoke_contract(session, city.bureau, s, second,
                                   ContractAction(reason="监管要求")).status.value == "revoked"  # fmt: skip
    third = contract_for(session, city, product_id)
    row = session.get(ProductContract, third)
    assert row is not None
    row.ends_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    assert (
        service.get_accessible_contract(session, city.people["cua"], s, third).status.value
        == "expired"
    )
    assert service.count_contracts(session) == 0
    # each customer sees its own contracts only
    mine = service.get_accessible_contracts(session, city.people["cud"], s)
    assert [c.id for c in mine] == [second]


def test_the_customer_issues_its_per_contract_key(session: Session, settings: Settings) -> None:
    city, product_id = _city(session, settings)
    contract_id = contract_for(session, city, product_id)
    with pytest.raises(Forbidden):  # the provider does not hold the customer's key
        service.issue_contract_key(session, city.people["opa"], settings, contract_id)
    key = service.issue_contract_key(session, city.people["cua"], settings, contract_id)
    assert key.scopes == ["products:deliver"]
    assert key.secret
    row = session.get(ProductContract, contract_id)
    assert row is not None
    assert row.api_key_id == key.id


def test_the_end_of_a_term_is_put_on_record_once(session: Session, settings: Settings) -> None:
    city, product_id = _city(session, settings)
    ended = contract_for(session, city, product_id)
    running = contract_for(session, city, product_id, customer="cud")
    revoked = contract_for(session, city, product_id, customer="cud")
    service.revoke_contract(session, city.bureau, settings.products, revoked,
                            ContractAction(reason="监管要求"))  # fmt: skip
    for contract_id in (ended, revoked):
        row = session.get(ProductContract, contract_id)
        assert row is not None
        row.ends_at = datetime.now(UTC) - timedelta(minutes=1)
    session.flush()
    assert service.record_expiries(session) == 1
    assert service.record_expiries(session) == 0
    row = session.get(ProductContract, ended)
    assert row is not None
    assert row.status == "expired"
    assert _actions(session, row.number)[-1] == "products.contract.expire"
    assert session.get(ProductContract, running).status == "in_force"  # type: ignore[union-attr]
    assert session.get(ProductContract, revoked).status == "revoked"  # type: ignore[union-attr]
