"""NGSI-LD subscriptions (ETSI GS CIM 009, 5.8): created, listed, retrieved, updated and deleted."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from citybase.core.net import OutboundPolicy
from citybase.core.settings import Settings
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawBody
from citybase.core.web.params import Offset
from citybase.perception.context import notify, subscriptions
from citybase.perception.context.auth import (
    subscription_unit,
)
from citybase.perception.context.wire import (
    _answer,
    _body,
    _known_params,
    _page_links,
    _reader_context,
)
from citybase.perception.devices.auth import Manager, Reader

router: APIRouter = APIRouter()


@router.post("/subscriptions", status_code=201)
@router.post("/subscriptions/", status_code=201, include_in_schema=False)
def create_subscription(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings, raw: RawBody,
) -> Response:  # fmt: skip
    """Subscribe an endpoint (http(s):// or mqtt://host:port/topic) to changes of entities;
    the subscription is the creator's unit's, and hears only of what that unit may read."""
    body, context = _body(request, raw)
    sub_id = subscriptions.create(session, body, context, owner=principal.username,
                                  hosts=settings.perception.notification_hosts,
                                  unit=principal.unit_code, outbound=_outbound(settings))  # fmt: skip
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/subscriptions/{sub_id}"})


@router.get("/subscriptions")
@router.get("/subscriptions/", include_in_schema=False)
def list_subscriptions(
    request: Request, session: DbSession, principal: Reader,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Offset = 0,
    count: bool = False, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    _known_params(request)
    context = _reader_context(link)
    found, total = subscriptions.listing(session, context, limit=limit, offset=offset,
                                         unit=subscription_unit(principal))  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    pages = _page_links(request, limit, offset, offset + limit < total)
    if pages:
        headers["Link"] = pages
    return _answer(request, found, context, headers=headers)


def _settled(sub_id: str) -> None:
    """A notification of the subscription under way ends and is written down before the
    request's own transaction begins, so that what is read counts it."""
    notify.settle(sub_id)


@router.get("/subscriptions/{sub_id}")
def retrieve_subscription(
    _: Annotated[None, Depends(_settled)], request: Request, session: DbSession,
    principal: Reader, sub_id: str, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    context = _reader_context(link)
    found = subscriptions.retrieve(session, sub_id, context, unit=subscription_unit(principal))
    return _answer(request, found, context)


@router.patch("/subscriptions/{sub_id}", status_code=204)
def update_subscription(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings, sub_id: str,
    raw: RawBody,
) -> Response:  # fmt: skip
    """Change some members (``isActive: false`` pauses it)."""
    body, context = _body(request, raw)
    subscriptions.update(session, sub_id, body, context,
                         hosts=settings.perception.notification_hosts,
                         unit=subscription_unit(principal), outbound=_outbound(settings))  # fmt: skip
    return Response(status_code=204)


@router.delete("/subscriptions/{sub_id}", status_code=204)
def delete_subscription(session: DbSession, principal: Manager, sub_id: str) -> Response:
    subscriptions.delete(session, sub_id, unit=subscription_unit(principal))
    return Response(status_code=204)


def _outbound(settings: Settings) -> OutboundPolicy:
    return OutboundPolicy.parse(settings.web.outbound_allow)
