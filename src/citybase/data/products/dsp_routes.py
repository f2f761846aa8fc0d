"""The Dataspace Protocol 2024-1 HTTPS binding of contract negotiation, citybase as the
provider, under /dsp: a connector asks for a product's offer and moves the negotiation with the
protocol's messages; errors come back as ``dspace:ContractNegotiationError``.

The participant is the signed-in user or the API key calling (its company is the consumer);
no ``Authorization`` token of another identity scheme is read. The provider's own messages
(offer, agreement, FINALIZED, termination) are made in citybase (the JSON API and the console)
and sent to the consumer's ``callbackAddress`` (``callbacks``); the consumer may also read the
negotiation's state here."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from citybase.core.errors import CitybaseError
from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.products import callbacks, negotiation, protocol
from citybase.data.products.auth import ContractParty


def protocol_route(error: type[protocol._Top]) -> type[APIRoute]:
    """A route class answering a refusal (after the request's transaction is rolled back) as
    the protocol's error object ``error`` (``dspace:ContractNegotiationError``,
    ``dspace:TransferError``, ``dspace:CatalogError``), with the HTTP status it carries."""

    class ProtocolRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer(request: Request) -> Response:
                try:
                    return await handler(request)
                except CitybaseError as exc:
                    body: dict[str, Any] = {"dspace:code": exc.code, "dspace:reason": (
                        [exc.message] + ([f"field: {exc.field}"] if exc.field else []))}  # fmt: skip
                    pid = request.path_params.get("provider_pid")
                    if pid and "provider_pid" in error.model_fields:
                        body["dspace:providerPid"] = pid
                    found = error.model_validate(body)
                    return JSONResponse(found.to_json(), status_code=exc.status_code)

            return answer

    return ProtocolRoute


DspRoute = protocol_route(protocol.ContractNegotiationError)


def base_url(request: Request, public_url: str | None) -> str:
    """The address the platform is reached at, for the endpoints a message names."""
    return (public_url or str(request.base_url)).rstrip("/")


router = APIRouter(prefix="/dsp", tags=["dataspace protocol"], route_class=DspRoute)


async def read_body(request: Request) -> Any:
    """The message a protocol route is sent, parsed before the route runs (``body: DspBody``):
    only the body is awaited here, on the event loop; the route does its database work in a
    thread. A body that is not JSON is refused as the protocol's error, as the route would."""
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise protocol.ProtocolError("the body is not JSON", field="body") from None


DspBody = Annotated[Any, Depends(read_body)]


def _ack(ack: protocol.ContractNegotiation, status: int = 200) -> JSONResponse:
    return JSONResponse(ack.to_json(), status_code=status)


@router.post("/negotiations/request")
def request_negotiation(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A ContractRequestMessage on a listed product's offer (by its ``@id``) starts a
    negotiation: 201 with the ACK (``dspace:REQUESTED``)."""
    callbacks.check_address(body, settings)
    return _ack(negotiation.receive_new_request(session, principal, body), 201)


@router.get("/negotiations/{provider_pid}")
def read_negotiation(
    session: DbSession, settings: AppSettings, principal: ContractParty, provider_pid: str
) -> JSONResponse:
    """The negotiation's ACK: its ids and state."""
    return _ack(negotiation.negotiation_ack(session, principal, settings.products, provider_pid))


def _receive(
    session: DbSession, settings: AppSettings, principal: ContractParty, provider_pid: str,
    body: Any, expected: type[protocol._Top],
) -> JSONResponse:  # fmt: skip
    return _ack(negotiation.receive_message(
        session, principal, settings.products, provider_pid, body, expected))  # fmt: skip


@router.post("/negotiations/{provider_pid}/request")
def request_again(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A ContractRequestMessage on the provider's offer: OFFERED → REQUESTED."""
    return _receive(session, settings, principal, provider_pid, body,
                    protocol.ContractRequestMessage)  # fmt: skip


@router.post("/negotiations/{provider_pid}/events")
def negotiation_event(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A ContractNegotiationEventMessage ``dspace:ACCEPTED``: OFFERED → ACCEPTED."""
    return _receive(session, settings, principal, provider_pid, body,
                    protocol.ContractNegotiationEventMessage)  # fmt: skip


@router.post("/negotiations/{provider_pid}/agreement/verification")
def verify_agreement(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A ContractAgreementVerificationMessage: AGREED → VERIFIED, then FINALIZED."""
    return _receive(session, settings, principal, provider_pid, body,
                    protocol.ContractAgreementVerificationMessage)  # fmt: skip


@router.post("/negotiations/{provider_pid}/termination")
def terminate(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    provider_pid: str, body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A ContractNegotiationTerminationMessage: → TERMINATED."""
    return _receive(session, settings, principal, provider_pid, body,
                    protocol.ContractNegotiationTerminationMessage)  # fmt: skip
