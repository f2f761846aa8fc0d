"""The Dataspace Protocol's transfer-process binding, citybase as the provider: a connector
asks for a transfer under its company's contract, pulls the signed file from the data address
with its token, and completes it; another company's contract, a revoked one, a format or a
product that cannot be pulled are refused with nothing stored; a message out of turn is 409 in
``dspace:TransferError``; every state change is on the ledger; revoking the contract
terminates its transfer and ends the token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus.models import Job
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import ApiKeyCreate
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.products import callbacks, service
from citybase.data.products.models import ProductContract, ProductDelivery, ProductTransfer
from citybase.data.products.schemas import ContractAction
from tests.data.products.factories import (
    add_customers,
    contract_for,
    listed_product,
    products_city,
)

CALLBACK = "https://connector.example/callback"
CTX = "https://w3id.org/dspace/2024/1/context.json"


def _setup(session: Session, settings: Settings, app, kind: str = "dataset"):  # type: ignore[no-untyped-def]
    city = products_city(session, settings)
    app.state.settings.products.bureau_unit = "fz.bigdata"
    add_customers(session, city)
    product_id = listed_product(session, city, kind=kind, name="井盖巡查数据集")
    contract_id = contract_for(session, city, product_id)
    contract = session.get(ProductContract, contract_id)
    assert contract is not None
    return city, contract


def _auth(session: Session, settings: Settings, city, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    made = identity.create_api_key(session, settings, city.people[who], ApiKeyCreate(
        name="连接器", scopes=["products:contract", "products:deliver"]))  # fmt: skip
    return {"Authorization": f"Bearer {made.secret}"}


def _request(agreement_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": CTX, "@type": "dspace:TransferRequestMessage",
        "dspace:consumerPid": "urn:uuid:consumer-t1", "dspace:agreementId": agreement_id,
        "dct:format": "HttpData-PULL",
        "dspace:callbackAddress": CALLBACK, **extra,
    }  # fmt: skip


def _message(kind: str, pid: str, **extra: Any) -> dict[str, Any]:
    return {"@context": CTX, "@type": f"dspace:{kind}", "dspace:providerPid": pid,
            "dspace:consumerPid": "urn:uuid:consumer-t1", **extra}  # fmt: skip


def _address(started: dict[str, Any]) -> tuple[str, dict[str, str]]:
    address = started["dspace:dataAddress"]
    props = {p["dspace:name"]: p["dspace:value"] for p in address["dspace:endpointProperties"]}
    assert props["authType"] == "bearer"
    path = address["dspace:endpoint"].split("://", 1)[1].split("/", 1)[1]
    return "/" + path, {"Authorization": f"Bearer {props['authorization']}"}


def _transfer_actions(session: Session, pid: str) -> list[str]:
    return list(session.scalars(
        select(LedgerEntry.action).where(LedgerEntry.object_id == pid).order_by(LedgerEntry.seq)
    ))  # fmt: skip


def test_request_start_pull_of_the_signed_file_and_completion(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    asked = client.post("/dsp/transfers/request", json=_request(contract.policy["uid"]),
                        headers=auth)  # fmt: skip
    assert asked.status_code == 201, asked.text
    started = asked.json()
    assert started["@type"] == "dspace:TransferStartMessage"
    assert started["dspace:consumerPid"] == "urn:uuid:consumer-t1"
    pid = started["dspace:providerPid"]
    assert client.get(f"/dsp/transfers/{pid}", headers=auth).json()["dspace:state"] == (
        "dspace:STARTED"
    )
    path, token = _address(started)
    assert path == f"/api/v1/products/contracts/{contract.id}/file"
    pulled = client.get(path, headers=token)
    assert pulled.status_code == 200, pulled.text
    assert pulled.content.startswith("\ufeff# citybase".encode())
    assert contract.number in pulled.content.split(b"\n", 1)[0].decode()
    record = session.get(ProductDelivery, int(pulled.headers["X-Citybase-Delivery"]))
    assert record is not None
    assert (record.mode, record.outcome) == ("file", "allowed")
    # the rows of a dataset are served with the same token while the transfer is started
    rows = client.get(f"/api/v1/products/contracts/{contract.id}/rows?limit=2", headers=token)
    assert rows.status_code == 200, rows.text
    done = client.post(f"/dsp/transfers/{pid}/completion",
                       json=_message("TransferCompletionMessage", pid), headers=auth)  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json() == {"@context": CTX, "@type": "dspace:TransferProcess",
                           "dspace:providerPid": pid, "dspace:consumerPid": "urn:uuid:consumer-t1",
                           "dspace:state": "dspace:COMPLETED"}  # fmt: skip
    assert client.get(path, headers=token).status_code == 401  # the token ended with it
    assert _transfer_actions(session, pid) == [
        "products.transfer.requested",
        "products.transfer.started",
        "products.transfer.completed",
    ]
    held = session.scalars(select(ProductTransfer).where(ProductTransfer.provider_pid == pid)).one()
    assert [h["state"] for h in held.history] == [
        "dspace:REQUESTED",
        "dspace:STARTED",
        "dspace:COMPLETED",
    ]
    # the token itself is on no record
    secret = token["Authorization"].removeprefix("Bearer ")
    assert all(secret not in str(e.details) for e in session.scalars(select(LedgerEntry)))


def test_illegal_transitions_answer_409_in_the_protocol_s_shape(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    started = client.post("/dsp/transfers/request", json=_request(contract.number), headers=auth)
    assert started.status_code == 201, started.text
    pid = started.json()["dspace:providerPid"]
    path, token = _address(started.json())
    # the consumer does not start a started transfer: it only restarts a suspended one
    again = client.post(f"/dsp/transfers/{pid}/start",
                        json=_message("TransferStartMessage", pid), headers=auth)  # fmt: skip
    assert again.status_code == 409, again.text
    assert again.json()["@type"] == "dspace:TransferError"
    assert again.json()["dspace:code"] == "illegal_transition"
    assert again.json()["dspace:providerPid"] == pid
    paused = client.post(f"/dsp/transfers/{pid}/suspension",
                         json=_message("TransferSuspensionMessage", pid), headers=auth)  # fmt: skip
    assert paused.json()["dspace:state"] == "dspace:SUSPENDED"
    refused = client.get(path, headers=token)  # pulls wait for a restart, traced and kept
    assert refused.status_code == 403
    assert refused.json()["error"]["rule"] == "transfer.started"
    complete = client.post(f"/dsp/transfers/{pid}/completion",
                           json=_message("TransferCompletionMessage", pid), headers=auth)  # fmt: skip
    assert complete.status_code == 409
    assert complete.json()["@type"] == "dspace:TransferError"
    wrong = client.post(f"/dsp/transfers/{pid}/start", headers=auth, json={
        **_message("TransferStartMessage", pid), "dspace:consumerPid": "urn:uuid:someone"})  # fmt: skip
    assert wrong.status_code == 409
    assert "dspace:consumerPid" in str(wrong.json()["dspace:reason"])
    restarted = client.post(f"/dsp/transfers/{pid}/start",
                            json=_message("TransferStartMessage", pid), headers=auth)  # fmt: skip
    assert restarted.status_code == 200, restarted.text
    assert restarted.json()["@type"] == "dspace:TransferStartMessage"
    _, new_token = _address(restarted.json())
    assert new_token != token
    assert client.get(path, headers=token).status_code == 401  # the last token ended
    assert client.get(path, headers=new_token).status_code == 200
    ended = client.post(f"/dsp/transfers/{pid}/termination",
                        json=_message("TransferTerminationMessage", pid), headers=auth)  # fmt: skip
    assert ended.json()["dspace:state"] == "dspace:TERMINATED"
    late = client.post(f"/dsp/transfers/{pid}/suspension",
                       json=_message("TransferSuspensionMessage", pid), headers=auth)  # fmt: skip
    assert late.status_code == 409
    assert "final state" in str(late.json()["dspace:reason"])
    assert session.scalars(select(ProductTransfer.state)).one() == "dspace:TERMINATED"


def test_another_company_s_contract_is_refused_and_nothing_changes(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract = _setup(session, settings, app)
    stranger = _auth(session, settings, city, "cud")
    before = session.scalar(select(func.count()).select_from(LedgerEntry))
    for agreement_id in (contract.policy["uid"], contract.number):
        refused = client.post("/dsp/transfers/request", json=_request(agreement_id),
                              headers=stranger)  # fmt: skip
        assert refused.status_code == 404, refused.text
        assert refused.json()["@type"] == "dspace:TransferError"
    assert session.scalar(select(func.count()).select_from(ProductTransfer)) == 0
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == before
    # nor does it read or move the customer's transfer
    auth = _auth(session, settings, city, "cua")
    started = client.post("/dsp/transfers/request", json=_request(contract.number), headers=auth)
    pid = started.json()["dspace:providerPid"]
    assert client.get(f"/dsp/transfers/{pid}", headers=stranger).status_code == 404
    ended = client.post(f"/dsp/transfers/{pid}/termination", headers=stranger,
                        json=_message("TransferTerminationMessage", pid))  # fmt: skip
    assert ended.status_code == 404
    assert session.scalars(select(ProductTransfer.state)).one() == "dspace:STARTED"
    # the provider reads it, but does not send the consumer's messages
    provider = {"Authorization": "Bearer " + identity.create_api_key(
        session, settings, city.people["opa"],
        ApiKeyCreate(name="k", scopes=["products:contract"])).secret}  # fmt: skip
    assert client.get(f"/dsp/transfers/{pid}", headers=provider).status_code == 200
    as_provider = client.post(f"/dsp/transfers/{pid}/completion", headers=provider,
                              json=_message("TransferCompletionMessage", pid))  # fmt: skip
    assert as_provider.status_code == 403
    assert session.scalars(select(ProductTransfer.state)).one() == "dspace:STARTED"
    assert client.post("/dsp/transfers/request", json=_request(contract.number)).status_code == 401


def test_a_revoked_contract_refuses_transfers_and_terminates_the_started_one(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    started = client.post("/dsp/transfers/request", json=_request(contract.number), headers=auth)
    pid = started.json()["dspace:providerPid"]
    path, token = _address(started.json())
    service.revoke_contract(session, city.bureau, settings.products, contract.id,
                            ContractAction(reason="违约使用"))  # fmt: skip
    assert client.get(f"/dsp/transfers/{pid}", headers=auth).json()["dspace:state"] == (
        "dspace:TERMINATED"
    )
    assert _transfer_actions(session, pid)[-1] == "products.transfer.terminated"
    assert client.get(path, headers=token).status_code == 401
    refused = client.post("/dsp/transfers/request", json=_request(contract.number), headers=auth)
    assert refused.status_code == 403
    assert "contract.revoked" in str(refused.json()["dspace:reason"])
    assert session.scalar(select(func.count()).select_from(ProductTransfer)) == 1
    # the consumer's connector is sent the provider's start and, with the revocation, the end
    sent = session.scalars(select(Job).where(Job.kind == callbacks.CALLBACK_JOB).order_by(Job.id))
    assert [(j.payload["url"], j.payload["message"]["@type"]) for j in sent] == [
        (f"{CALLBACK}/transfers/urn:uuid:consumer-t1/start", "dspace:TransferStartMessage"),
        (f"{CALLBACK}/transfers/urn:uuid:consumer-t1/termination",
         "dspace:TransferTerminationMessage"),
    ]  # fmt: skip


def test_formats_and_products_that_cannot_be_pulled_are_refused(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    push = client.post("/dsp/transfers/request",
                       json=_request(contract.number, **{"dct:format": "HttpData-PUSH"}),
                       headers=auth)  # fmt: skip
    assert push.status_code == 403
    assert "transfer.format" in str(push.json()["dspace:reason"])
    # a key that may negotiate but not fetch deliveries is given no token
    negotiator = identity.create_api_key(session, settings, city.people["cua"],
                                         ApiKeyCreate(name="k", scopes=["products:contract"]))  # fmt: skip
    narrow = client.post("/dsp/transfers/request", json=_request(contract.number),
                         headers={"Authorization": f"Bearer {negotiator.secret}"})  # fmt: skip
    assert narrow.status_code == 403
    bad = client.post("/dsp/transfers/request", headers=auth,
                      json={**_request(contract.number), "dspace:colour": "red"})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["@type"] == "dspace:TransferError"
    sandboxed = contract_for(session, city, listed_product(session, city, kind="sandbox",
                                                           name="井盖巡查沙箱分析"))  # fmt: skip
    kept = session.get(ProductContract, sandboxed)
    assert kept is not None
    analysis = client.post("/dsp/transfers/request", json=_request(kept.number), headers=auth)
    assert analysis.status_code == 403
    assert "delivery.mode" in str(analysis.json()["dspace:reason"])
    assert session.scalar(select(func.count()).select_from(ProductTransfer)) == 0


def test_a_contract_past_its_term_terminates_its_open_transfer(
    client: TestClient, session: Session, settings: Settings, app
) -> None:  # type: ignore[no-untyped-def]
    city, contract = _setup(session, settings, app)
    auth = _auth(session, settings, city, "cua")
    started = client.post("/dsp/transfers/request", json=_request(contract.number), headers=auth)
    pid = started.json()["dspace:providerPid"]
    contract.ends_at = datetime.now(UTC) - timedelta(minutes=1)
    session.flush()
    assert service.record_expiries(session) == 1
    held = session.scalars(select(ProductTransfer).where(ProductTransfer.provider_pid == pid)).one()
    assert held.state == "dspace:TERMINATED"
    assert held.history[-1]["reason"] == "合同期满 (rule contract.expired)"
    assert _transfer_actions(session, pid)[-1] == "products.transfer.terminated"
