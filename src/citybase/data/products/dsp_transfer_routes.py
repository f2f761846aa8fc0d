"""The Dataspace Protocol 2024-1 HTTPS binding of transfer processes, citybase as the provider,
under /dsp: a connector asks for a transfer under one of its company's contracts, is answered
with the provider's TransferStartMessage (the data address to pull from, with its token), and
suspends, restarts, completes or terminates it; refusals come back as ``dspace:TransferError``.

The caller is authenticated as for contract negotiation (a signed-in user or an API key with
``products:contract``; asking for a transfer also needs ``products:deliver``). The provider's
messages are the answers here, and are also sent to the consumer's ``callbackAddress``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.products import callbacks, protocol, transfers
from citybase.data.products.auth import ContractParty
from citybase.data.products.dsp_routes import DspBody, base_url, protocol_route

router = APIRouter(
    prefix="/dsp", tags=["dataspace protocol"], route_class=protocol_route(protocol.TransferError)
)


@router.post("/transfers/request")
def request_transfer(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A TransferRequestMessage (``dspace:agreementId`` one of the caller's company's
    contracts, ``dct:format`` ``HttpData-PULL``): 201 with the provider's TransferStartMessage,
    its ``dspace:dataAddress`` the contract's delivery endpoint and a bearer token."""
    callbacks.check_address(body, settings)
    started = transfers.request_transfer(session, principal, settings.products,
                                         base_url(request, settings.web.public_url), body)  # fmt: skip
    return JSONResponse(started.to_json(), status_code=201)


@router.get("/transfers/{provider_pid}")
def read_transfer(
    session: DbSession, settings: AppSettings, principal: ContractParty, provider_pid: str
) -> JSONResponse:
    """The transfer process's ACK: its ids and state."""
    return JSONResponse(
        transfers.transfer_ack(session, principal, settings.products, provider_pid).to_json()
    )


def _receive(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: Any, expected: type[protocol._Top],
) -> JSONResponse:  # fmt: skip
    answer = transfers.receive_transfer_message(
        session, principal, settings.products, base_url(request, settings.web.public_url),
        provider_pid, body, expected,
    )  # fmt: skip
    return JSONResponse(answer.to_json())


@router.post("/transfers/{provider_pid}/start")
def restart_transfer(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A TransferStartMessage from the consumer restarts a suspended transfer (SUSPENDED →
    STARTED); answered by the provider's TransferStartMessage with a new token."""
    return _receive(request, session, settings, principal, provider_pid, body,
                    protocol.TransferStartMessage)  # fmt: skip


@router.post("/transfers/{provider_pid}/completion")
def complete_transfer(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A TransferCompletionMessage: STARTED → COMPLETED; the token ends."""
    return _receive(request, session, settings, principal, provider_pid, body,
                    protocol.TransferCompletionMessage)  # fmt: skip


@router.post("/transfers/{provider_pid}/suspension")
def suspend_transfer(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A TransferSuspensionMessage: STARTED → SUSPENDED; pulls are refused until a restart."""
    return _receive(request, session, settings, principal, provider_pid, body,
                    protocol.TransferSuspensionMessage)  # fmt: skip


@router.post("/transfers/{provider_pid}/termination")
def terminate_transfer(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A TransferTerminationMessage: REQUESTED, STARTED or SUSPENDED → TERMINATED; the token
    ends."""
    return _receive(request, session, settings, principal, provider_pid, body,
                    protocol.TransferTerminationMessage)  # fmt: skip
