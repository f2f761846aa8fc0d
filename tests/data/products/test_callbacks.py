"""The provider's Dataspace Protocol messages reach the consumer's callback address: kept as
jobs with the move that made them, sent as the binding's callback paths; an address the
platform may not call is refused before anything is stored."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.bus.models import Job
from citybase.core.settings import Settings
from citybase.data.products import callbacks, service
from citybase.data.products.models import ProductNegotiation
from tests.data.products.factories import terms
from tests.data.products.test_contract_routes import CTX, _key, _request_message, _setup


class Consumer:
    """A consumer connector's callback endpoint on this machine: keeps what it is sent and
    answers ``status``."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.got.append((self.path, body))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callback"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    found = Consumer()
    yield found
    found.server.shutdown()


def _kept(session: Session) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.kind == callbacks.CALLBACK_JOB)
                                .order_by(Job.id)))  # fmt: skip


def test_the_providers_moves_are_sent_to_the_consumers_callback(
    client: TestClient, session: Session, settings: Settings, app, consumer: Consumer
) -> None:  # type: ignore[no-untyped-def]
    city, product_id = _setup(session, settings, app)
    app.state.settings.web.outbound_allow = "127.0.0.1"
    number = service.get_accessible_product(session, city.bureau, settings.products,
                                            product_id).number  # fmt: skip
    auth = {"Authorization": f"Bearer {_key(session, settings, city, 'cua')}"}
    asked = client.post("/dsp/negotiations/request", headers=auth,
                        json=_request_message(number, **{"dspace:callbackAddress": consumer.url}))  # fmt: skip
    assert asked.status_code == 201, asked.text
    pid = asked.json()["dspace:providerPid"]
    pids = {"@context": CTX, "dspace:providerPid": pid, "dspace:consumerPid": "urn:uuid:consumer-1"}
    assert not _kept(session)  # the consumer's own request is not echoed back
    nid = session.query(ProductNegotiation).filter_by(provider_pid=pid).one().id
    service.offer_terms(session, city.people["opa"], settings.products, nid, terms())
    client.post(f"/dsp/negotiations/{pid}/events", headers=auth, json={
        **pids, "@type": "dspace:ContractNegotiationEventMessage", "dspace:eventType": "dspace:ACCEPTED"})  # fmt: skip
    service.agree_contract(session, city.people["opa"], settings.products, nid, None)
    done = client.post(f"/dsp/negotiations/{pid}/agreement/verification", headers=auth,
                       json={**pids, "@type": "dspace:ContractAgreementVerificationMessage"})  # fmt: skip
    assert done.json()["dspace:state"] == "dspace:FINALIZED"
    kept = _kept(session)
    base = f"{consumer.url}/negotiations/urn:uuid:consumer-1"
    assert [j.payload["url"] for j in kept] == [f"{base}/offers", f"{base}/agreement",
                                                f"{base}/events"]  # fmt: skip
    for job in kept:  # what the worker's job does
        callbacks.send(job.payload, app.state.settings)
    assert [p for p, _ in consumer.got] == [
        "/callback/negotiations/urn:uuid:consumer-1/offers",
        "/callback/negotiations/urn:uuid:consumer-1/agreement",
        "/callback/negotiations/urn:uuid:consumer-1/events",
    ]
    types = [b["@type"] for _, b in consumer.got]
    assert types == ["dspace:ContractOfferMessage", "dspace:ContractAgreementMessage",
                     "dspace:ContractNegotiationEventMessage"]  # fmt: skip
    assert consumer.got[2][1]["dspace:eventType"] == "dspace:FINALIZED"
    assert all(b["dspace:providerPid"] == pid for _, b in consumer.got)


def test_a_consumer_that_does_not_take_the_message_has_it_sent_again(
    consumer: Consumer, settings: Settings
) -> None:
    settings.web.outbound_allow = "127.0.0.1"
    consumer.status = 503
    payload = {"url": f"{consumer.url}/negotiations/urn:uuid:c/events",
               "message": {"@type": "dspace:ContractNegotiationEventMessage"}}  # fmt: skip
    with pytest.raises(RuntimeError, match="503"):  # the job fails and is retried with backoff
        callbacks.send(payload, settings)
    consumer.status = 200
    callbacks.send(payload, settings)
    assert len(consumer.got) == 2


@pytest.mark.parametrize("address", ["http://127.0.0.1:9/callback", "http://169.254.169.254/x",
                                     "ftp://connector.example/callback"])  # fmt: skip
def test_a_callback_the_platform_may_not_call_is_refused_and_nothing_kept(
    client: TestClient, session: Session, settings: Settings, app, address: str
) -> None:  # type: ignore[no-untyped-def]
    city, product_id = _setup(session, settings, app)
    number = service.get_accessible_product(session, city.bureau, settings.products,
                                            product_id).number  # fmt: skip
    auth = {"Authorization": f"Bearer {_key(session, settings, city, 'cua')}"}
    refused = client.post("/dsp/negotiations/request", headers=auth,
                          json=_request_message(number, **{"dspace:callbackAddress": address}))  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert refused.json()["@type"] == "dspace:ContractNegotiationError"
    assert "dspace:callbackAddress" in str(refused.json()["dspace:reason"])
    assert session.query(ProductNegotiation).count() == 0
    assert not _kept(session)
