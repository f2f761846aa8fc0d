"""NGSI-LD context source registrations (ETSI GS CIM 009, 5.9 and 5.10): created, listed,
retrieved, updated and deleted; each is its creator's unit's, like a subscription."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from citybase.core.net import OutboundPolicy
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import RawBody
from citybase.core.web.params import Offset
from citybase.perception.context import registrations
from citybase.perception.context.auth import subscription_unit
from citybase.perception.context.wire import (
    _answer,
    _body,
    _known_params,
    _options,
    _page_links,
    _reader_context,
    _split,
)
from citybase.perception.devices.auth import Manager, Reader

router: APIRouter = APIRouter()
PATH = "/csourceRegistrations"


@router.post(PATH, status_code=201)
@router.post(PATH + "/", status_code=201, include_in_schema=False)
def create_registration(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings, raw: RawBody,
) -> Response:  # fmt: skip
    """Register a context source (another broker, a district's) and what it holds; queries
    and retrievals here then ask it too."""
    body, context = _body(request, raw)
    reg_id = registrations.create(
        session, body, context, owner=principal.username, unit=principal.unit_code,
        outbound=OutboundPolicy.parse(settings.web.outbound_allow),
    )  # fmt: skip
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1{PATH}/{reg_id}"})


@router.get(PATH)
@router.get(PATH + "/", include_in_schema=False)
def list_registrations(
    request: Request, session: DbSession, principal: Reader,
    limit: Annotated[int, Query(ge=0, le=1000)] = 20, offset: Offset = 0,
    count: bool = False, type: str | None = None, attrs: str | None = None,
    id: str | None = None, options: str | None = None,
    link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    """The caller's unit's registrations (an administrator's: all), those that may hold
    entities of ``type``, with ``attrs`` or of ``id`` if given."""
    _known_params(request)
    context = _reader_context(link)
    found, total = registrations.listing(
        session, context, limit=limit, offset=offset, unit=subscription_unit(principal),
        types=_split(type), attrs=_split(attrs), ids=_split(id),
        sys_attrs="sysAttrs" in _options(options),
    )  # fmt: skip
    headers = {"NGSILD-Results-Count": str(total)} if count else {}
    pages = _page_links(request, limit, offset, offset + limit < total)
    if pages:
        headers["Link"] = pages
    return _answer(request, found, context, headers=headers)


@router.get(PATH + "/{reg_id}")
def retrieve_registration(
    request: Request, session: DbSession, principal: Reader, reg_id: str,
    options: str | None = None, link: Annotated[str | None, Header()] = None,
) -> Response:  # fmt: skip
    _known_params(request)
    context = _reader_context(link)
    found = registrations.retrieve(session, reg_id, context, unit=subscription_unit(principal),
                                   sys_attrs="sysAttrs" in _options(options))  # fmt: skip
    return _answer(request, found, context)


@router.patch(PATH + "/{reg_id}", status_code=204)
def update_registration(
    request: Request, session: DbSession, principal: Manager, settings: AppSettings, reg_id: str,
    raw: RawBody,
) -> Response:  # fmt: skip
    """Change some members (5.9.3): those given replace the registration's, ``management``
    member by member."""
    body, context = _body(request, raw)
    registrations.update(session, reg_id, body, context, unit=subscription_unit(principal),
                         outbound=OutboundPolicy.parse(settings.web.outbound_allow))  # fmt: skip
    return Response(status_code=204)


@router.delete(PATH + "/{reg_id}", status_code=204)
def delete_registration(session: DbSession, principal: Manager, reg_id: str) -> Response:
    registrations.delete(session, reg_id, unit=subscription_unit(principal))
    return Response(status_code=204)
