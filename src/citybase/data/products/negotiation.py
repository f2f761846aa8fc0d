"""Moving a contract negotiation (合同协商) — the verbs of ``contracts``: a customer's request,
the provider's offer and agreement, the customer's acceptance and verification, termination by
either side. Every message is built as the Dataspace Protocol 2024-1 message it is and taken
by ``protocol.negotiation_step``, so that the HTTPS binding (``dsp_routes``) and the console
drive the same verbs; the offer and the agreement are ODRL policies that compile
(``policies.compile_policy``) before they are sent."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.bus import service as bus
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import ProductsSettings
from citybase.data.products import callbacks, policies, protocol, repository
from citybase.data.products.contracts import (
    PROVIDER,
    RULE_OFFER,
    RULE_PURPOSE,
    RULE_TERM,
    accessible_negotiation,
    end_of_term,
    negotiation_by_pid,
    offer_uid,
    read_negotiations,
    record_contract,
    record_step,
    require_customer,
    require_on_offer,
    require_side,
    unit_urn,
)
from citybase.data.products.models import DataProduct, ProductContract, ProductNegotiation
from citybase.data.products.protocol import NegotiationState as N
from citybase.data.products.protocol import Role as Side
from citybase.data.products.schemas import (
    ContractConcluded,
    ContractStatus,
    ContractTerms,
    NegotiationCreate,
    NegotiationRead,
    ProductStatus,
    Termination,
)

# --- the policies ---------------------------------------------------------------------------------


def offered_purposes(product: DataProduct) -> list[str]:
    """The purposes the product's offer allows (empty: any)."""
    for rule in (product.offer_policy or {}).get("permission", []):
        for constraint in rule.get("constraint", []):
            if constraint.get("leftOperand") == "purpose":
                return [str(v) for v in constraint.get("rightOperand", [])]
    return []


def dsp_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """An ODRL policy kept in its compact form, as the protocol's messages carry it: ``@id``,
    ``@type`` and properties with the ``odrl:`` prefix (the rules inside may stay compact)."""
    out: dict[str, Any] = {"@id": policy["uid"], "@type": f"odrl:{policy['@type']}"}
    for key, value in policy.items():
        if key not in ("@context", "@type", "uid"):
            out[key if ":" in key else f"odrl:{key}"] = value
    return out


def _with_terms(
    product: DataProduct, purposes: list[str], terms: ContractTerms, kind: str, uid: str,
    assignee: str = "",
) -> dict[str, Any]:  # fmt: skip
    """The product's offer narrowed to the negotiation's purposes and the provider's terms."""
    base = dict(product.offer_policy or {})
    permission = dict(base["permission"][0])
    constraints = [c for c in permission.get("constraint", []) if c.get("leftOperand") != "purpose"]
    if purposes:
        constraints.insert(0, {"leftOperand": "purpose", "operator": "isAnyOf",
                               "rightOperand": list(purposes)})  # fmt: skip
    constraints.append({"leftOperand": "dateTime", "operator": "lt",
                        "rightOperand": end_of_term(terms.ends_on).isoformat()})  # fmt: skip
    if terms.max_calls:
        constraints.append(
            {"leftOperand": "count", "operator": "lteq", "rightOperand": terms.max_calls}
        )
    if terms.max_rows:
        constraints.append({"leftOperand": "citybase:rows", "operator": "lteq",
                            "rightOperand": terms.max_rows})  # fmt: skip
    if terms.region:
        constraints.append({"leftOperand": "spatial", "operator": "isPartOf",
                            "rightOperand": terms.region})  # fmt: skip
    permission["constraint"] = constraints
    policy: dict[str, Any] = {
        **base, "@type": kind, "uid": uid, "target": permission.get("target", ""),
        "permission": [permission],
        "prohibition": [*base.get("prohibition", []), {"action": "transfer"}],
        "obligation": [{"action": "delete", "constraint": [
            {"leftOperand": "dateTime", "operator": "gteq",
             "rightOperand": end_of_term(terms.ends_on).isoformat()}]}],
    }  # fmt: skip
    if assignee:
        policy["assignee"] = assignee
    policies.compile_policy(policy)  # a policy that does not compile is never offered
    return policy


def _check_terms(session: Session, product: DataProduct, terms: ContractTerms) -> None:
    today = clock.today()
    if terms.ends_on < today:
        raise InvalidInput(f"the term ends on {terms.ends_on}, before today (rule {RULE_TERM})",
                           field="ends_on", rule=RULE_TERM)  # fmt: skip
    if product.agreement_id is not None:
        deal = repository.agreement(session, product.agreement_id)
        if deal is not None and terms.ends_on > deal.ends_on:
            raise InvalidInput(
                f"the term may not outlast operation agreement {deal.number}, which ends on "
                f"{deal.ends_on} (rule {RULE_TERM})", field="ends_on", rule=RULE_TERM,
            )  # fmt: skip


# --- moving a negotiation -------------------------------------------------------------------------


def _held(negotiation: ProductNegotiation) -> protocol.ContractNegotiation:
    return protocol.ContractNegotiation.model_validate({
        "dspace:providerPid": negotiation.provider_pid,
        "dspace:consumerPid": negotiation.consumer_pid, "dspace:state": negotiation.state,
    })  # fmt: skip


def _pids(negotiation: ProductNegotiation) -> dict[str, str]:
    return {"dspace:providerPid": negotiation.provider_pid,
            "dspace:consumerPid": negotiation.consumer_pid}  # fmt: skip


def _move(
    session: Session, actor: Actor, negotiation: ProductNegotiation, message: protocol._Top,
    side: Side, reason: str = "", details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Take one message: the state machine says the next state (or refuses), and the change
    goes on the ledger."""
    moved = protocol.negotiation_step(_held(negotiation), message, side)
    negotiation.state = moved.state.value
    _log(session, actor, negotiation, reason, details)
    if side is Side.provider:  # the consumer's connector is told at its callback address
        callbacks.queue(session, negotiation.callback_address, "negotiations",
                        negotiation.consumer_pid, message)  # fmt: skip


def _log(
    session: Session, actor: Actor, negotiation: ProductNegotiation, reason: str,
    details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    record_step(session, actor, negotiation, "negotiation", reason,
                {"product": negotiation.product_id, **(details or {})})  # fmt: skip


def _product_of_offer(session: Session, offer: protocol.Offer) -> DataProduct:
    number = offer.id.removeprefix("urn:citybase:offer:")
    product = repository.product_by_number(session, number) if number != offer.id else None
    if product is None or product.status != ProductStatus.listed.value:
        raise InvalidInput(
            f"no listed product offers {offer.id!r}: ask with the @id of an offer from the "
            f"catalog (rule {RULE_OFFER})", field="dspace:offer.@id", rule=RULE_OFFER,
        )  # fmt: skip
    return product


def _purposes_in(value: Any) -> list[str]:
    """The right operands of every purpose constraint in a policy's JSON, in any of its forms."""
    found: list[str] = []
    if isinstance(value, list):
        for item in value:
            found.extend(_purposes_in(item))
    elif isinstance(value, dict):
        left = value.get("leftOperand", value.get("odrl:leftOperand"))
        if isinstance(left, dict):
            left = left.get("@id")
        if isinstance(left, str) and left.rsplit("/", 1)[-1].removeprefix("odrl:") == "purpose":
            right = value.get("rightOperand", value.get("odrl:rightOperand"))
            for item in right if isinstance(right, list) else [right]:
                found.append(str(item.get("@value", item) if isinstance(item, dict) else item))
        else:
            for item in value.values():
                found.extend(_purposes_in(item))
    return found


def _asked_purposes(offer: protocol.Offer, offered: list[str]) -> list[str]:
    """The purposes a customer's offer narrows the product's to (its purpose constraints),
    checked against those offered; the product's own when it names none."""
    asked = list(dict.fromkeys(_purposes_in(offer.terms())))
    if not asked:
        return list(offered)
    outside = [p for p in asked if offered and p not in offered]
    if outside:
        raise Forbidden(
            f"purpose {outside[0]} is not among those offered ({'、'.join(offered)}) "
            f"(rule {RULE_PURPOSE})", field="purpose", rule=RULE_PURPOSE,
        )  # fmt: skip
    return asked


def receive_request(
    session: Session, principal: Principal, message: protocol.ContractRequestMessage,
    scenario: str = "",
) -> ProductNegotiation:  # fmt: skip
    """A customer's ContractRequestMessage: a new negotiation (no ``providerPid``), or a
    request again on an offer the provider made (OFFERED → REQUESTED)."""
    product = _product_of_offer(session, message.offer)
    require_customer(session, principal, product)
    require_on_offer(session, product)
    purposes = _asked_purposes(message.offer, offered_purposes(product))
    if message.provider_pid:
        held = repository.negotiation_by_pid(session, message.provider_pid)
        if held is None or held.customer_unit_code != principal.unit_code:
            raise NotFound(f"no negotiation {message.provider_pid}", field="dspace:providerPid")
        _move(session, actor_of(principal), held, message, Side.consumer, "再次请求",
              {"offer": message.offer.terms()})  # fmt: skip
        held.purposes = purposes
        held.offer = dict(product.offer_policy or {})
        return held
    pid = f"urn:uuid:{uuid.uuid4()}"
    state = protocol.negotiation_step(None, message, Side.consumer, own_pid=pid).state
    negotiation = ProductNegotiation(
        provider_pid=pid, consumer_pid=message.consumer_pid, product_id=product.id,
        customer_unit_code=principal.unit_code, provider_unit_code=product.owner_unit_code,
        requested_by=actor_of(principal).name, purposes=purposes, scenario=scenario,
        state=state.value, offer=dict(product.offer_policy or {}), terms={}, agreement=None,
        callback_address=message.callback_address or "", history=[],
    )  # fmt: skip
    repository.add(session, negotiation)
    _log(session, actor_of(principal), negotiation, scenario or "请求数据产品",
         {"offer": negotiation.offer, "purposes": purposes})  # fmt: skip
    return negotiation


def request_product(
    session: Session, principal: Principal, product_id: int, data: NegotiationCreate
) -> NegotiationRead:
    """A customer asks for a listed product (as a ContractRequestMessage on its offer)."""
    product = repository.product(session, product_id)
    if product is None or product.status != ProductStatus.listed.value:
        raise NotFound(f"no listed product {product_id}", field="product")
    offered = offered_purposes(product)
    if offered and data.purpose not in offered:
        raise Forbidden(
            f"purpose {data.purpose} is not among those offered ({'、'.join(offered)}) "
            f"(rule {RULE_PURPOSE})", field="purpose", rule=RULE_PURPOSE,
        )  # fmt: skip
    offer = dsp_policy(dict(product.offer_policy or {"uid": offer_uid(product), "@type": "Offer"}))
    message = protocol.ContractRequestMessage.model_validate({
        "dspace:consumerPid": data.consumer_pid or f"urn:uuid:{uuid.uuid4()}",
        "dspace:offer": {**offer, "odrl:permission": [{"action": "use", "constraint": [
            {"leftOperand": "purpose", "operator": "eq", "rightOperand": data.purpose}]}]},
    })  # fmt: skip
    negotiation = receive_request(session, principal, message, data.scenario)
    return read_negotiations(session, [negotiation])[0]


def offer_terms(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int,
    terms: ContractTerms,
) -> NegotiationRead:  # fmt: skip
    """The provider offers its terms (REQUESTED → OFFERED): the product's offer narrowed to
    the purposes asked, with the term and any limits."""
    negotiation = accessible_negotiation(session, principal, settings, negotiation_id)
    require_side(principal, settings, negotiation, Side.provider)
    product = repository.product(session, negotiation.product_id)
    assert product is not None
    _check_terms(session, product, terms)
    uid = f"urn:citybase:offer:{product.number}:{negotiation.id}:{len(negotiation.history)}"
    offer = _with_terms(product, negotiation.purposes, terms, "Offer", uid)
    message = protocol.ContractOfferMessage.model_validate(
        {**_pids(negotiation), "dspace:offer": dsp_policy(offer)}
    )
    _move(session, actor_of(principal), negotiation, message, Side.provider, terms.reason,
          {"offer": offer})  # fmt: skip
    negotiation.offer = offer
    negotiation.terms = terms.model_dump(mode="json", exclude={"reason"})
    return read_negotiations(session, [negotiation])[0]


def accept_offer(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int,
    reason: str = "",
) -> NegotiationRead:  # fmt: skip
    """The customer accepts the provider's offer (OFFERED → ACCEPTED)."""
    negotiation = accessible_negotiation(session, principal, settings, negotiation_id)
    require_side(principal, settings, negotiation, Side.consumer)
    message = protocol.ContractNegotiationEventMessage.model_validate(
        {**_pids(negotiation), "dspace:eventType": "dspace:ACCEPTED"}
    )
    _move(session, actor_of(principal), negotiation, message, Side.consumer, reason or "接受要约")
    return read_negotiations(session, [negotiation])[0]


def agree_contract(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int,
    terms: ContractTerms | None, reason: str = "",
) -> NegotiationRead:  # fmt: skip
    """The provider agrees (REQUESTED or ACCEPTED → AGREED): the ODRL Agreement is made from
    the offer on the table — from ``terms`` when agreeing to a request directly — with the
    customer as assignee."""
    negotiation = accessible_negotiation(session, principal, settings, negotiation_id)
    require_side(principal, settings, negotiation, Side.provider)
    product = repository.product(session, negotiation.product_id)
    assert product is not None
    require_on_offer(session, product)
    if negotiation.state == N.ACCEPTED.value:
        said = terms.reason if terms else (reason or "同意")  # the offer accepted is agreed
        terms = ContractTerms.model_validate({**negotiation.terms, "reason": said})
    elif terms is None:
        raise InvalidInput("agreeing to a request directly, give the terms (ends_on…)",
                           field="ends_on", rule=RULE_TERM)  # fmt: skip
    _check_terms(session, product, terms)
    agreement = _with_terms(
        product, negotiation.purposes, terms, "Agreement",
        f"urn:citybase:agreement:{negotiation.provider_pid.removeprefix('urn:uuid:')}",
        unit_urn(negotiation.customer_unit_code),
    )  # fmt: skip
    agreement["assigner"] = unit_urn(product.owner_unit_code)
    now = datetime.now(UTC)
    message = protocol.ContractAgreementMessage.model_validate({
        **_pids(negotiation),
        "dspace:agreement": {**dsp_policy(agreement), "dspace:timestamp": now.isoformat()},
    })  # fmt: skip
    _move(session, actor_of(principal), negotiation, message, Side.provider, terms.reason,
          {"agreement": agreement})  # fmt: skip
    negotiation.agreement = agreement
    negotiation.terms = terms.model_dump(mode="json", exclude={"reason"})
    return read_negotiations(session, [negotiation])[0]


def verify_agreement(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int,
    reason: str = "",
) -> NegotiationRead:  # fmt: skip
    """The customer verifies the agreement (AGREED → VERIFIED); the provider then finalizes
    it (→ FINALIZED) and the contract is in force from that moment."""
    negotiation = accessible_negotiation(session, principal, settings, negotiation_id)
    require_side(principal, settings, negotiation, Side.consumer)
    message = protocol.ContractAgreementVerificationMessage.model_validate(_pids(negotiation))
    _move(session, actor_of(principal), negotiation, message, Side.consumer, reason or "核验协议")
    finalize = protocol.ContractNegotiationEventMessage.model_validate(
        {**_pids(negotiation), "dspace:eventType": "dspace:FINALIZED"}
    )
    _move(session, PROVIDER, negotiation, finalize, Side.provider, "协议生效")
    _conclude(session, principal, negotiation)
    return read_negotiations(session, [negotiation])[0]


def _conclude(session: Session, principal: Principal, negotiation: ProductNegotiation) -> None:
    assert negotiation.agreement is not None
    product = repository.product(session, negotiation.product_id)
    assert product is not None
    contract = ProductContract(
        number=repository.next_number(session, ProductContract, f"HT-{clock.today().year}"),
        negotiation_id=negotiation.id, product_id=negotiation.product_id,
        customer_unit_code=negotiation.customer_unit_code,
        provider_unit_code=negotiation.provider_unit_code, purposes=list(negotiation.purposes),
        scenario=negotiation.scenario, policy=negotiation.agreement,
        starts_at=datetime.now(UTC), ends_at=end_of_term(
            datetime.fromisoformat(str(negotiation.terms["ends_on"])).date()),
        status=ContractStatus.in_force.value, calls=0, rows=0, bytes=0,
    )  # fmt: skip
    repository.add(session, contract)
    negotiation.contract_id = contract.id
    record_contract(session, actor_of(principal), contract, "conclude", negotiation.provider_pid,
            {"agreement": negotiation.agreement})  # fmt: skip
    bus.publish(session, ContractConcluded(
        number=contract.number, product_number=product.number,
        customer_unit_code=contract.customer_unit_code,
        provider_unit_code=contract.provider_unit_code))  # fmt: skip


def terminate_negotiation(
    session: Session, principal: Principal, settings: ProductsSettings, negotiation_id: int,
    data: Termination,
) -> NegotiationRead:  # fmt: skip
    """Either side (or the bureau) ends a negotiation not yet finalized (→ TERMINATED)."""
    negotiation = accessible_negotiation(session, principal, settings, negotiation_id)
    side = Side.consumer if principal.unit_code == negotiation.customer_unit_code else Side.provider
    require_side(principal, settings, negotiation, side)
    message = protocol.ContractNegotiationTerminationMessage.model_validate({
        **_pids(negotiation), "dspace:code": data.code or None, "dspace:reason": [data.reason],
    })  # fmt: skip
    _move(session, actor_of(principal), negotiation, message, side, data.reason,
          {"code": data.code})  # fmt: skip
    return read_negotiations(session, [negotiation])[0]


# --- the protocol's own messages (the HTTPS binding) ----------------------------------------------


def ack(negotiation: ProductNegotiation) -> protocol.ContractNegotiation:
    """The negotiation as the protocol's ACK (``dspace:ContractNegotiation``)."""
    return protocol.ContractNegotiation.model_validate({
        "dspace:providerPid": negotiation.provider_pid,
        "dspace:consumerPid": negotiation.consumer_pid, "dspace:state": negotiation.state,
    })  # fmt: skip


def negotiation_ack(
    session: Session, principal: Principal, settings: ProductsSettings, provider_pid: str
) -> protocol.ContractNegotiation:
    return ack(negotiation_by_pid(session, principal, settings, provider_pid))


def receive_new_request(
    session: Session, principal: Principal, body: Any
) -> protocol.ContractNegotiation:
    """``POST /negotiations/request``: a ContractRequestMessage that starts a negotiation."""
    message = protocol.parse_message(body, protocol.ContractRequestMessage)
    assert isinstance(message, protocol.ContractRequestMessage)
    if message.provider_pid:
        raise protocol.ProtocolError(
            "a request that starts a negotiation names no dspace:providerPid (send it to "
            "/negotiations/{providerPid}/request)", field="dspace:providerPid",
        )  # fmt: skip
    return ack(receive_request(session, principal, message))


def receive_message(
    session: Session, principal: Principal, settings: ProductsSettings, provider_pid: str,
    body: Any, expected: type[protocol._Top],
) -> protocol.ContractNegotiation:  # fmt: skip
    """A customer's message to an existing negotiation (``/negotiations/{providerPid}/…``):
    read as ``expected``, its ids checked against the negotiation's, then taken by the same
    verb the console and the JSON API use."""
    negotiation = negotiation_by_pid(session, principal, settings, provider_pid)
    message = protocol.parse_message(body, expected)
    for name, alias in (("provider_pid", "dspace:providerPid"),
                        ("consumer_pid", "dspace:consumerPid")):  # fmt: skip
        theirs = getattr(message, name, None)
        if theirs != getattr(negotiation, name):
            raise protocol.IllegalTransition(
                f"{alias} {theirs!r} is not this negotiation's ({getattr(negotiation, name)!r})",
                field=alias,
            )  # fmt: skip
    if isinstance(message, protocol.ContractRequestMessage):
        receive_request(session, principal, message)
    elif isinstance(message, protocol.ContractNegotiationEventMessage):
        if message.event_type is not protocol.NegotiationEvent.ACCEPTED:
            protocol.negotiation_step(ack(negotiation), message, Side.consumer)  # refuses
        accept_offer(session, principal, settings, negotiation.id)
    elif isinstance(message, protocol.ContractAgreementVerificationMessage):
        verify_agreement(session, principal, settings, negotiation.id)
    elif isinstance(message, protocol.ContractNegotiationTerminationMessage):
        reason = "; ".join(str(r) for r in message.reason or []) or "terminated by the consumer"
        terminate_negotiation(session, principal, settings, negotiation.id,
                              Termination(reason=reason[:2000], code=(message.code or "")[:80]))  # fmt: skip
    return ack(negotiation)
