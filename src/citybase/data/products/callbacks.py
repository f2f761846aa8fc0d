"""The provider's messages sent to the consumer's ``dspace:callbackAddress`` (the Dataspace
Protocol 2024-1 HTTPS binding's consumer callback paths).

A connector that starts a negotiation or a transfer names a callback address; every move the
provider then makes is also POSTed there, relative to that address: a negotiation's
``negotiations/:consumerPid/offers | agreement | events | termination``, a transfer's
``transfers/:consumerPid/start | suspension | completion | termination``. The consumer may still
read the state at ``/dsp/negotiations/{pid}`` or ``/dsp/transfers/{pid}``.

A message is not sent inside the request that made it: it is kept as a job in the same
transaction (so a move rolled back sends nothing) and sent by the worker, retried with backoff
when the consumer does not answer 2xx, up to five times (then parked among the failed jobs for
an operator). The address is checked against the platform's outbound policy when it is given
(``web.outbound_allow``: no loopback, private or metadata addresses unless named) and again, on
the addresses actually connected to, when the message is sent (``core.net``). No
``Authorization`` header is sent: the platform holds no identity a consumer's connector could
check (a dataspace's identity service is not joined)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.net import OutboundPolicy, OutboundRefused, check_endpoint, post
from citybase.core.settings import Settings
from citybase.data.products import protocol

CALLBACK_JOB = "data.products.dsp.callback"
ATTEMPTS = 5
TIMEOUT = 10.0  # seconds for the consumer to answer

NEGOTIATION_PATHS: dict[type[protocol._Top], str] = {
    protocol.ContractOfferMessage: "offers",
    protocol.ContractAgreementMessage: "agreement",
    protocol.ContractNegotiationEventMessage: "events",
    protocol.ContractNegotiationTerminationMessage: "termination",
}
TRANSFER_PATHS: dict[type[protocol._Top], str] = {
    protocol.TransferStartMessage: "start",
    protocol.TransferSuspensionMessage: "suspension",
    protocol.TransferCompletionMessage: "completion",
    protocol.TransferTerminationMessage: "termination",
}


def check_address(body: Any, settings: Settings) -> None:
    """Refuse a message whose ``dspace:callbackAddress`` the platform may not call (before
    anything is stored), naming the property."""
    address = body.get("dspace:callbackAddress") if isinstance(body, dict) else None
    if not address:
        return
    if not str(address).startswith(("http://", "https://")):
        raise protocol.ProtocolError("dspace:callbackAddress: an http or https address only",
                                     field="dspace:callbackAddress")  # fmt: skip
    try:
        check_endpoint(str(address), OutboundPolicy.parse(settings.web.outbound_allow))
    except OutboundRefused as exc:
        raise protocol.ProtocolError(
            f"dspace:callbackAddress: {exc.message}", field="dspace:callbackAddress"
        ) from None


def url(address: str, process: str, consumer_pid: str, step: str) -> str:
    return f"{address.rstrip('/')}/{process}/{consumer_pid}/{step}"


def queue(
    session: Session, address: str, process: str, consumer_pid: str, message: protocol._Top
) -> None:
    """Keep ``message`` to be sent to the consumer's callback for ``process`` (``negotiations``
    or ``transfers``); nothing when no address was given or the message has no callback path."""
    paths = NEGOTIATION_PATHS if process == "negotiations" else TRANSFER_PATHS
    step = paths.get(type(message))
    if not address or not consumer_pid or step is None:
        return
    bus.schedule(session, CALLBACK_JOB, max_attempts=ATTEMPTS, payload={
        "url": url(address, process, consumer_pid, step), "message": message.to_json(),
    })  # fmt: skip


def send(payload: dict[str, Any], settings: Settings) -> None:
    """POST one kept message; raises (so the job is retried) unless the consumer answers 2xx."""
    body = json.dumps(payload["message"], ensure_ascii=False).encode()
    policy = OutboundPolicy.parse(settings.web.outbound_allow)
    status = post(str(payload["url"]), body, {"Content-Type": "application/json"}, policy,
                  TIMEOUT)  # fmt: skip
    if not 200 <= status < 300:
        raise RuntimeError(f"the consumer's callback answered {status}")
