"""Negotiations and contracts through HTTP: the JSON API, and the Dataspace Protocol's HTTPS
binding under /dsp with its message shapes and its error object; nobody crosses to another
party's negotiation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate
from citybase.core.settings import Settings
from citybase.data.products import service
from citybase.data.products.models import ProductContract, ProductNegotiation
from tests.core.identity.factories import sign_in
from tests.data.products.factories import (
    add_customers,
    contract_for,
    days,
    listed_product,
    products_city,
    terms,
)

CTX = "https://w3id.org/dspace/2024/1/context.json"


def _setup(session: Session, settings: Settings, app):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    add_customers(session, city)
    return city, listed_product(session, city)


def _key(session: Session, settings: Settings, city, who: str) -> str:  # type: ignore[no-untyped-def]
    made = identity.create_api_key(session, settings, city.people[who],
                                   ApiKeyCreate(name="连接器", scopes=["products:contract"]))  # fmt: skip
    return made.secret


def test_a_negotiation_through_the_json_api_makes_a_contract(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    _city, product_id = _setup(session, settings, app)
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")
    asked = client.post(f"/api/v1/products/{product_id}/negotiations",
                        json={"purpose": "城市治理", "scenario": "井盖巡查"})  # fmt: skip
    assert asked.status_code == 201, asked.text
    nid = asked.json()["id"]
    assert asked.json()["state"] == "dspace:REQUESTED"
    bad = client.post(f"/api/v1/products/{product_id}/negotiations", json={"purpose": ""})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"]
    client.headers["X-CSRF-Token"] = sign_in(client, "opa")
    body = terms().model_dump(mode="json")
    assert client.post(f"/api/v1/products/negotiations/{nid}/offer", json=body).status_code == 200
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")
    assert client.post(f"/api/v1/products/negotiations/{nid}/accept", json={}).status_code == 200
    client.headers["X-CSRF-Token"] = sign_in(client, "opa")
    agreed = client.post(
        f"/api/v1/products/negotiations/{nid}/agree",
        json={"ends_on": str(days(30)), "reason": "同意"},
    )
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["agreement"]["@type"] == "Agreement"
    client.headers["X-CSRF-Token"] = sign_in(client, "cua")
    done = client.post(f"/api/v1/products/negotiations/{nid}/verify", json={})
    assert done.json()["state"] == "dspace:FINALIZED"
    contract_id = done.json()["contract_id"]
    listed = client.get("/api/v1/products/contracts").json()
    assert [c["id"] for c in listed] == [contract_id]
    assert listed[0]["policy"]["assignee"] == "urn:citybase:unit:cu.gamma"
    key = client.post(f"/api/v1/products/contracts/{contract_id}/key")
    assert key.status_code == 201
    assert key.json()["scopes"] == ["products:deliver"]
    # the customer does not revoke
    assert client.post(f"/api/v1/products/contracts/{contract_id}/revoke",
                       json={"reason": "自撤"}).status_code == 403  # fmt: skip


def test_other_parties_get_nothing_and_change_nothing(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, product_id = _setup(session, settings, app)
    contract_id = contract_for(session, city, product_id)
    asked = service.request_product(session, city.people["cua"], product_id,
                                    service_request())  # fmt: skip
    for path in ("/api/v1/products/negotiations", "/api/v1/products/contracts",
                 f"/api/v1/products/contracts/{contract_id}"):  # fmt: skip
        assert client.get(path).status_code == 401, path
    for who in ("cud", "opb"):
        client.headers["X-CSRF-Token"] = sign_in(client, who)
        assert client.get(f"/api/v1/products/negotiations/{asked.id}").status_code == 404
        assert client.get(f"/api/v1/products/contracts/{contract_id}").status_code == 404
        assert client.get("/api/v1/products/contracts").json() == []
        assert client.post(f"/api/v1/products/negotiations/{asked.id}/offer",
                           json=terms().model_dump(mode="json")).status_code == 404  # fmt: skip
        assert client.post(f"/api/v1/products/contracts/{contract_id}/revoke",
                           json={"reason": "越权"}).status_code == 404  # fmt: skip
    assert session.get(ProductNegotiation, asked.id).state == "dspace:REQUESTED"  # type: ignore[union-attr]
    assert session.get(ProductContract, contract_id).status == "in_force"  # type: ignore[union-attr]


def service_request():  # type: ignore[no-untyped-def]
    from citybase.data.products.schemas import NegotiationCreate

    return NegotiationCreate(purpose="城市治理")


def _request_message(product_number: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": CTX, "@type": "dspace:ContractRequestMessage",
        "dspace:consumerPid": "urn:uuid:consumer-1",
        "dspace:offer": {"@id": f"urn:citybase:offer:{product_number}", "@type": "odrl:Offer",
                         "odrl:target": f"urn:citybase:product:{product_number}"},
        "dspace:callbackAddress": "https://connector.example/callback", **extra,
    }  # fmt: skip


def test_a_connector_negotiates_over_the_dsp_binding(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, product_id = _setup(session, settings, app)
    number = service.get_accessible_product(session, city.bureau, settings.products,
                                            product_id).number  # fmt: skip
    auth = {"Authorization": f"Bearer {_key(session, settings, city, 'cua')}"}
    started = client.post("/dsp/negotiations/request", json=_request_message(number), headers=auth)
    assert started.status_code == 201, started.text
    ack = started.json()
    assert ack["@type"] == "dspace:ContractNegotiation"
    assert ack["dspace:state"] == "dspace:REQUESTED"
    assert ack["dspace:consumerPid"] == "urn:uuid:consumer-1"
    pid = ack["dspace:providerPid"]
    assert (
        client.get(f"/dsp/negotiations/{pid}", headers=auth).json()["dspace:state"]
        == "dspace:REQUESTED"
    )
    pids = {"@context": CTX, "dspace:providerPid": pid, "dspace:consumerPid": "urn:uuid:consumer-1"}
    # accepting before an offer: the state machine refuses, in the protocol's error shape
    early = client.post(f"/dsp/negotiations/{pid}/events", headers=auth, json={
        **pids, "@type": "dspace:ContractNegotiationEventMessage", "dspace:eventType": "dspace:ACCEPTED"})  # fmt: skip
    assert early.status_code == 409
    assert early.json()["@type"] == "dspace:ContractNegotiationError"
    assert early.json()["dspace:code"] == "illegal_transition"
    nid = session.query(ProductNegotiation).filter_by(provider_pid=pid).one().id
    service.offer_terms(session, city.people["opa"], settings.products, nid, terms())
    wrong = client.post(f"/dsp/negotiations/{pid}/events", headers=auth, json={
        **pids, "dspace:consumerPid": "urn:uuid:someone-else",
        "@type": "dspace:ContractNegotiationEventMessage", "dspace:eventType": "dspace:ACCEPTED"})  # fmt: skip
    assert wrong.status_code == 409
    assert "dspace:consumerPid" in str(wrong.json()["dspace:reason"])
    accepted = client.post(f"/dsp/negotiations/{pid}/events", headers=auth, json={
        **pids, "@type": "dspace:ContractNegotiationEventMessage", "dspace:eventType": "dspace:ACCEPTED"})  # fmt: skip
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["dspace:state"] == "dspace:ACCEPTED"
    service.agree_contract(session, city.people["opa"], settings.products, nid, None)
    verified = client.post(f"/dsp/negotiations/{pid}/agreement/verification", headers=auth,
                           json={**pids, "@type": "dspace:ContractAgreementVerificationMessage"})  # fmt: skip
    assert verified.json()["dspace:state"] == "dspace:FINALIZED"
    late = client.post(f"/dsp/negotiations/{pid}/termination", headers=auth, json={
        **pids, "@type": "dspace:ContractNegotiationTerminationMessage", "dspace:reason": ["x"]})  # fmt: skip
    assert late.status_code == 409
    assert session.query(ProductNegotiation).filter_by(id=nid).one().state == "dspace:FINALIZED"


def test_the_dsp_binding_refuses_bad_messages_and_strangers_in_its_own_shape(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, product_id = _setup(session, settings, app)
    number = service.get_accessible_product(session, city.bureau, settings.products,
                                            product_id).number  # fmt: skip
    anonymous = client.post("/dsp/negotiations/request", json=_request_message(number))
    assert anonymous.status_code == 401
    assert anonymous.json()["@type"] == "dspace:ContractNegotiationError"
    auth = {"Authorization": f"Bearer {_key(session, settings, city, 'cua')}"}
    for body, field in (
        ("not json", "body"),
        ({**_request_message(number), "dspace:colour": "red"}, "dspace:colour"),
        ({**_request_message(number), "@type": "ContractRequestMessage"}, "@type"),
        (_request_message("CP-1999-0001"), "dspace:offer.@id"),
    ):
        sent = (client.post("/dsp/negotiations/request", content=body, headers=auth)
                if isinstance(body, str) else
                client.post("/dsp/negotiations/request", json=body, headers=auth))  # fmt: skip
        assert sent.status_code == 422, (field, sent.text)
        assert sent.json()["@type"] == "dspace:ContractNegotiationError"
        assert any(field in r for r in sent.json()["dspace:reason"]), (field, sent.json())
    asked = client.post("/dsp/negotiations/request", json=_request_message(number), headers=auth)
    pid = asked.json()["dspace:providerPid"]
    other = {"Authorization": f"Bearer {_key(session, settings, city, 'cud')}"}
    assert client.get(f"/dsp/negotiations/{pid}", headers=other).status_code == 404
    stranger = client.post(f"/dsp/negotiations/{pid}/termination", headers=other, json={
        "@context": CTX, "@type": "dspace:ContractNegotiationTerminationMessage",
        "dspace:providerPid": pid, "dspace:consumerPid": "urn:uuid:consumer-1"})  # fmt: skip
    assert stranger.status_code == 404
    assert client.get("/dsp/negotiations/urn:uuid:nothing", headers=auth).status_code == 404
    held = session.query(ProductNegotiation).filter_by(provider_pid=pid).one()
    assert held.state == "dspace:REQUESTED"
    assert len(held.history) == 1
