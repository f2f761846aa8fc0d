"""Dataspace Protocol 2024-1: messages read in the spec's shape, refused naming the property at
fault, and the negotiation and transfer state machines refusing what the spec does not allow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from citybase.data.products import protocol as dsp
from citybase.data.products.policies import UsageRequest, compile_policy, decide
from citybase.data.products.protocol import NegotiationState as N
from citybase.data.products.protocol import Role
from citybase.data.products.protocol import TransferState as T

CTX = "https://w3id.org/dspace/2024/1/context.json"
PROVIDER_PID = "urn:uuid:7b0c9b1e-citybase-provider"
CONSUMER_PID = "urn:uuid:5f7e2a90-operator-consumer"
OFFER_ID = "urn:citybase:offer:traffic-flow:1"
DATASET = "urn:citybase:product:traffic-flow"


def message(kind: str, **props: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"@context": CTX, "@type": f"dspace:{kind}"}
    if kind not in ("ContractRequestMessage", "TransferRequestMessage", "CatalogRequestMessage"):
        body["dspace:providerPid"] = PROVIDER_PID
    if kind not in ("ContractOfferMessage", "CatalogRequestMessage"):
        body["dspace:consumerPid"] = CONSUMER_PID
    return body | props


CATALOG = {
    "@context": CTX,
    "@id": "urn:citybase:catalog:fz",
    "@type": "dcat:Catalog",
    "dct:title": "福州市数据产品目录",
    "dspace:participantId": "urn:citybase:fz.bigdata",
    "dcat:service": [{"@id": "urn:citybase:dsp", "@type": "dcat:DataService",
                      "dcat:endpointURL": "https://data.fz.example/dsp"}],
    "dcat:dataset": [{
        "@id": DATASET,
        "@type": "dcat:Dataset",
        "dct:title": "道路交通流量",
        "dcat:keyword": ["交通"],
        "odrl:hasPolicy": [{
            "@id": OFFER_ID, "@type": "odrl:Offer", "odrl:assigner": "fz.transport",
            "odrl:permission": [{"odrl:action": "odrl:use", "odrl:constraint": [{
                "odrl:leftOperand": "odrl:purpose", "odrl:operator": "odrl:eq",
                "odrl:rightOperand": "交通规划"}]}],
            "odrl:prohibition": [{"odrl:action": "odrl:distribute"}],
        }],
        "dcat:distribution": [{"@type": "dcat:Distribution", "dct:format": "dspace:HttpData-PULL",
                               "dcat:accessService": {"@id": "urn:citybase:dsp",
                                                      "@type": "dcat:DataService"}}],
    }],
}  # fmt: skip


def test_a_catalog_in_the_spec_shape_reads_and_writes_back_the_same() -> None:
    catalog = dsp.parse_message(CATALOG, dsp.Catalog)
    assert isinstance(catalog, dsp.Catalog)
    offer = catalog.dataset[0].has_policy[0]
    assert offer.id == OFFER_ID
    assert catalog.to_json() == CATALOG
    terms = compile_policy(offer.terms())  # the offer's terms are an ODRL policy
    request = UsageRequest(action="read", at=datetime(2026, 6, 1, tzinfo=UTC), purpose="交通规划")
    assert decide(terms, request).rule == "permission[0]"


def test_catalog_request() -> None:
    asked = dsp.parse_message(message("CatalogRequestMessage", **{"dspace:filter": []}))
    assert isinstance(asked, dsp.CatalogRequestMessage)


def test_a_full_negotiation_from_request_to_finalized() -> None:
    request = dsp.parse_message(message("ContractRequestMessage", **{
        "dspace:offer": {"@type": "odrl:Offer", "@id": OFFER_ID, "odrl:target": DATASET},
        "dspace:callbackAddress": "https://operator.example/callback",
    }))  # fmt: skip
    held = dsp.negotiation_step(None, request, Role.consumer, own_pid=PROVIDER_PID)
    assert (held.state, held.provider_pid, held.consumer_pid) == (
        N.REQUESTED,
        PROVIDER_PID,
        CONSUMER_PID,
    )
    agreement = dsp.parse_message(message("ContractAgreementMessage", **{
        "dspace:agreement": {
            "@id": "urn:citybase:contract:HT2026000001", "@type": "odrl:Agreement",
            "odrl:target": DATASET, "dspace:timestamp": "2026-06-01T01:00:00Z",
            "odrl:assigner": "fz.transport", "odrl:assignee": "op.gaode",
            "odrl:permission": [{"odrl:action": "odrl:use"}],
        },
        "dspace:callbackAddress": "https://data.fz.example/dsp",
    }))  # fmt: skip
    held = dsp.negotiation_step(held, agreement, Role.provider)
    assert held.state is N.AGREED
    verified = dsp.parse_message(message("ContractAgreementVerificationMessage"))
    held = dsp.negotiation_step(held, verified, Role.consumer)
    assert held.state is N.VERIFIED
    final = dsp.parse_message(message("ContractNegotiationEventMessage",
                                      **{"dspace:eventType": "dspace:FINALIZED"}))  # fmt: skip
    held = dsp.negotiation_step(held, final, Role.provider)
    assert held.to_json() == {
        "@context": CTX, "@type": "dspace:ContractNegotiation",
        "dspace:providerPid": PROVIDER_PID, "dspace:consumerPid": CONSUMER_PID,
        "dspace:state": "dspace:FINALIZED",
    }  # fmt: skip
    with pytest.raises(dsp.IllegalTransition, match="final state"):
        dsp.negotiation_step(held, dsp.parse_message(message(
            "ContractNegotiationTerminationMessage")), Role.consumer)  # fmt: skip


def test_an_offer_then_accepted_then_agreed() -> None:
    offer = dsp.parse_message(message("ContractOfferMessage", **{
        "dspace:offer": {"@type": "odrl:Offer", "@id": OFFER_ID, "odrl:target": DATASET},
        "dspace:callbackAddress": "https://data.fz.example/dsp",
    }))  # fmt: skip
    held = dsp.negotiation_step(None, offer, Role.provider, own_pid=CONSUMER_PID)
    assert held.state is N.OFFERED
    accepted = dsp.parse_message(message("ContractNegotiationEventMessage",
                                         **{"dspace:eventType": "dspace:ACCEPTED"}))  # fmt: skip
    assert dsp.negotiation_step(held, accepted, Role.consumer).state is N.ACCEPTED
    with pytest.raises(dsp.IllegalTransition, match="not the provider"):
        dsp.negotiation_step(held, accepted, Role.provider)  # only a consumer accepts


@pytest.mark.parametrize(
    ("state", "kind", "extra", "sender", "words"),
    [
        (N.REQUESTED, "ContractAgreementVerificationMessage", {}, Role.consumer,
         "cannot be taken in state dspace:REQUESTED"),
        (N.OFFERED, "ContractAgreementMessage", {}, Role.provider, "cannot be taken"),
        (N.AGREED, "ContractAgreementVerificationMessage", {}, Role.provider,
         "sent by the consumer, not the provider"),
        (N.VERIFIED, "ContractNegotiationEventMessage",
         {"dspace:eventType": "dspace:FINALIZED"}, Role.consumer, "not the consumer"),
        (N.TERMINATED, "ContractNegotiationTerminationMessage", {}, Role.provider,
         "final state"),
    ],
)  # fmt: skip
def test_an_illegal_negotiation_step_is_refused(
    state: N, kind: str, extra: dict[str, Any], sender: Role, words: str
) -> None:
    held = dsp.ContractNegotiation.model_validate({
        "dspace:providerPid": PROVIDER_PID, "dspace:consumerPid": CONSUMER_PID,
        "dspace:state": state,
    })  # fmt: skip
    body = message(kind, **extra)
    if kind == "ContractAgreementMessage":
        body["dspace:agreement"] = {
            "@id": "urn:a", "@type": "odrl:Agreement", "odrl:target": DATASET,
            "dspace:timestamp": "2026-06-01T01:00:00Z", "odrl:assigner": "a",
            "odrl:assignee": "b",
        }  # fmt: skip
    with pytest.raises(dsp.IllegalTransition) as caught:
        dsp.negotiation_step(held, dsp.parse_message(body), sender)
    assert words in caught.value.message
    assert caught.value.status_code == 409


def test_a_message_for_another_negotiation_is_refused() -> None:
    held = dsp.ContractNegotiation.model_validate({
        "dspace:providerPid": PROVIDER_PID, "dspace:consumerPid": CONSUMER_PID,
        "dspace:state": N.AGREED,
    })  # fmt: skip
    other = message("ContractAgreementVerificationMessage", **{"dspace:consumerPid": "urn:x"})
    with pytest.raises(dsp.IllegalTransition) as caught:
        dsp.negotiation_step(held, dsp.parse_message(other), Role.consumer)
    assert caught.value.field == "dspace:consumerPid"


def test_a_transfer_from_request_to_completion() -> None:
    request = dsp.parse_message(message("TransferRequestMessage", **{
        "dspace:agreementId": "urn:citybase:contract:HT2026000001",
        "dct:format": "dspace:HttpData-PULL",
        "dspace:callbackAddress": "https://operator.example/callback",
    }))  # fmt: skip
    held = dsp.transfer_step(None, request, Role.consumer, own_pid=PROVIDER_PID)
    assert held.state is T.REQUESTED
    start = dsp.parse_message(message("TransferStartMessage", **{"dspace:dataAddress": {
        "@type": "dspace:DataAddress", "dspace:endpointType": "https://w3id.org/idsa/v4.1/HTTP",
        "dspace:endpoint": "https://data.fz.example/deliveries/1",
        "dspace:endpointProperties": [{"@type": "dspace:EndpointProperty",
                                       "dspace:name": "authorization", "dspace:value": "t"}],
    }}))  # fmt: skip
    # the consumer does not start a transfer: it may only restart a suspended one
    with pytest.raises(dsp.IllegalTransition, match="in state dspace:REQUESTED"):
        dsp.transfer_step(held, start, Role.consumer)
    held = dsp.transfer_step(held, start, Role.provider)
    with pytest.raises(dsp.IllegalTransition, match="in state dspace:STARTED"):
        dsp.transfer_step(held, start, Role.consumer)
    suspend = dsp.parse_message(message("TransferSuspensionMessage", **{"dspace:code": "quota"}))
    held = dsp.transfer_step(held, suspend, Role.consumer)
    assert held.state is T.SUSPENDED
    assert dsp.transfer_step(held, start, Role.consumer).state is T.STARTED
    done = dsp.parse_message(message("TransferCompletionMessage"))
    with pytest.raises(dsp.IllegalTransition, match="dspace:SUSPENDED"):
        dsp.transfer_step(held, done, Role.provider)
    held = dsp.transfer_step(dsp.transfer_step(held, start, Role.provider), done, Role.provider)
    assert held.state is T.COMPLETED
    with pytest.raises(dsp.IllegalTransition, match="final state"):
        dsp.transfer_step(held, dsp.parse_message(message("TransferTerminationMessage")),
                          Role.consumer)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"@context": CTX, "@type": "ContractRequestMessage"}, "@type",
         "version 2024-1 writes dspace:ContractRequestMessage"),
        (message("ContractRequestMessage", **{"@context": "https://w3id.org/dspace/2025/1/context.jsonld",
                 "dspace:offer": {"@id": OFFER_ID}}), "@context", "2024/1/context.json"),
        (message("ContractRequestMessage"), "dspace:offer", "required"),
        (message("ContractRequestMessage", **{"dspace:offer": {"@type": "odrl:Offer"}}),
         "dspace:offer.@id", "required"),
        (message("ContractAgreementVerificationMessage", **{"dspace:signature": "x"}),
         "dspace:signature", "not permitted"),
        (message("ContractNegotiationEventMessage", **{"dspace:eventType": "dspace:AGREED"}),
         "dspace:eventType", "dspace:ACCEPTED"),
        (message("ContractAgreementMessage", **{"dspace:agreement": {
            "@id": "urn:a", "@type": "odrl:Agreement", "odrl:target": DATASET,
            "odrl:assigner": "a", "odrl:assignee": "b"}}),
         "dspace:agreement.dspace:timestamp", "required"),
    ],
)  # fmt: skip
def test_a_message_not_in_the_spec_shape_is_refused_naming_the_property(
    body: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(dsp.ProtocolError) as caught:
        dsp.parse_message(body)
    assert caught.value.field == field
    assert words in caught.value.message


def test_errors_read_in_the_spec_shape() -> None:
    error = dsp.parse_message(message("ContractNegotiationError", **{
        "dspace:code": "offer_unknown", "dspace:reason": [{"message": "no such offer"}]}))  # fmt: skip
    assert isinstance(error, dsp.ContractNegotiationError)
    assert error.code == "offer_unknown"
    transfer = dsp.parse_message(message("TransferError", **{"dspace:code": "agreement_expired"}))
    assert isinstance(transfer, dsp.TransferError)


def test_nothing_but_a_request_or_an_offer_starts_a_negotiation() -> None:
    end = dsp.parse_message(message("ContractNegotiationTerminationMessage"))
    with pytest.raises(dsp.IllegalTransition, match="before any negotiation"):
        dsp.negotiation_step(None, end, Role.consumer, own_pid=PROVIDER_PID)
    known = message("ContractRequestMessage", **{"dspace:offer": {"@id": OFFER_ID}})
    known["dspace:providerPid"] = "urn:uuid:not-here"
    with pytest.raises(dsp.IllegalTransition, match="no negotiation urn:uuid:not-here"):
        dsp.negotiation_step(None, dsp.parse_message(known), Role.consumer, own_pid=PROVIDER_PID)
