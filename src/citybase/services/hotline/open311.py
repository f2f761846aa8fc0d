"""Open311 GeoReport v2 at ``/open311/v2/``: JSON or XML by the path's suffix, errors in the
spec's own format. Reading is public; posting a request needs an ``api_key`` whose owner may take
cases in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.settings import Settings
from citybase.core.values import check_date
from citybase.core.web.access import Public, declares_access
from citybase.core.web.deps import AppSettings, DbSession
from citybase.hub.cases.auth import CASES_INTAKE
from citybase.services.hotline import service
from citybase.services.hotline.schemas import Open311Request

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])


def _format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        # the swagger documents 400 for an address it cannot serve
        raise InvalidInput(f"no format {fmt[:20]}: use .json or .xml", field="response_format")
    return fmt


def _out(fmt: str, root: str, item: str, rows: list[dict[str, Any]], status: int = 200) -> Response:
    if _format(fmt) == "xml":
        return Response(service.to_xml(root, item, rows), status_code=status,
                        media_type="text/xml; charset=utf-8")  # fmt: skip
    return JSONResponse(rows, status_code=status)


FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class NotAForm(CitybaseError):
    status_code = 415
    code = "unsupported_media_type"


async def posted_form(request: Request) -> dict[str, str]:
    """A posted request's fields, wherever the client put them: in the query string (as the
    official GeoReport v2 swagger has them, ``api_key`` included) or in a form body (as the
    wiki has them); where both name a field, the body's value is taken. Read here, in the one
    step that must wait for the network, so that what touches the database is a plain function
    that runs off the event loop. A body that is not a form (XML, JSON) is refused as such,
    never parsed."""
    fields = dict(request.query_params)
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body.strip() or (kind and kind not in FORMS):
        if kind not in FORMS:
            raise NotAForm(f"a request is posted as a form ({' or '.join(FORMS)}), not "
                           f"{kind or 'a body of no type'}", field="content-type")  # fmt: skip
        fields.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    return fields


PostedForm = Annotated[dict[str, str], Depends(posted_form)]


@declares_access("an Open311 api_key (query string or form field) whose owner may take cases in")
def open311_key(session: DbSession, form: PostedForm) -> Principal:
    raw = form.get("api_key")
    principal = identity.principal_from_api_key(session, raw) if raw else None
    if principal is None:
        raise Forbidden("a valid api_key is required", field="api_key")
    if not principal.can(CASES_INTAKE):
        raise Forbidden(f"this api_key may not post requests (needs {CASES_INTAKE})",
                        field="api_key")  # fmt: skip
    return principal


def jurisdiction(settings: AppSettings, jurisdiction_id: str | None = None) -> str:
    """GeoReport's ``jurisdiction_id``: optional on a single-jurisdiction endpoint; when given,
    it must be this platform's (``CITYBASE_WEB__OPEN311_JURISDICTION``, else the city code)."""
    own = settings.web.open311_jurisdiction or settings.city_code
    if jurisdiction_id and jurisdiction_id.strip() != own:
        raise NotFound(f"jurisdiction_id {jurisdiction_id[:60]} not found (this endpoint "
                       f"serves {own})", field="jurisdiction_id")  # fmt: skip
    return own


Jurisdiction = Annotated[str, Depends(jurisdiction)]
KeyHolder = Annotated[Principal, Depends(open311_key)]


def base_url(request: Request, public_url: str | None) -> str:
    return (public_url or str(request.base_url)).rstrip("/")


def _rows(requests: list[Open311Request]) -> list[dict[str, Any]]:
    return [r.model_dump(exclude_none=True) for r in requests]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "1", "yes")


@router.get("/services.{fmt}")
def services(session: DbSession, _: Public, __: Jurisdiction, fmt: str) -> Response:
    """Every 小类 and 细类 of the event taxonomy, grouped by 大类."""
    rows = [s.model_dump() for s in service.services(session)]
    return _out(fmt, "services", "service", rows)


@router.get("/services/{code}.{fmt}")
def service_definition(
    session: DbSession, _: Public, __: Jurisdiction, code: str, fmt: str
) -> Response:
    """The service's attributes (紧急程度, a single-value list)."""
    _format(fmt)
    found = service.definition(session, code).model_dump()
    if fmt == "xml":
        return Response(service.one_xml("service_definition", found),
                        media_type="text/xml; charset=utf-8")  # fmt: skip
    return JSONResponse(found)


@router.post("/requests.{fmt}", status_code=200)
def post_request(
    session: DbSession, principal: KeyHolder, settings: AppSettings, fmt: str, form: PostedForm
) -> Response:
    """Take a request in. Its fields (``api_key`` included) come in the query string, as the
    official swagger has them, or in an ``application/x-www-form-urlencoded`` body, as the wiki
    has them. Answers 200, as the swagger says."""
    _format(fmt)
    jurisdiction(settings, form.get("jurisdiction_id"))
    case = service.submit(session, principal, form, settings)
    rows = [{"service_request_id": case.number, "service_notice": service.notice(case)}]
    return _out(fmt, "service_requests", "request", rows)


def _dates(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    out: list[datetime | None] = []
    for name, value in (("start_date", start), ("end_date", end)):
        if not value:
            out.append(None)
            continue
        try:
            parsed = check_date(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError as exc:
            reason = str(exc) if "year" in str(exc) else f"{name} must be a w3c date-time"
            raise InvalidInput(reason, field=name) from None
        if parsed.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone (Z or +08:00)", field=name)
        out.append(parsed)
    return out[0], out[1]


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@router.get("/requests.{fmt}")
def get_requests(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: Public,
    __: Jurisdiction,
    fmt: str,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    extensions: str | None = None,
) -> Response:
    """Requests, newest first (at most 500): by id, service code, date range and status.
    ``extensions=true`` adds ``extended_attributes`` (the finer state, every photo's link)."""
    _format(fmt)
    start, end = _dates(start_date, end_date)
    found = service.requests(session, _split(service_request_id), _split(service_code), start,
                             end, status or "", settings=settings,
                             base_url=base_url(request, settings.web.public_url),
                             extensions=_flag(extensions))  # fmt: skip
    return _out(fmt, "service_requests", "request", _rows(found))


def _one(
    request: Request, session: DbSession, settings: Settings, number: str, extensions: str | None
) -> Open311Request:
    found = service.requests(session, [number], [], None, None, "", settings=settings,
                             base_url=base_url(request, settings.web.public_url),
                             extensions=_flag(extensions))  # fmt: skip
    if not found:
        raise NotFound(f"no request {number}", field="service_request_id")
    return found[0]


@router.get("/requests/{number}.{fmt}")
def get_request(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: Public,
    __: Jurisdiction,
    number: str,
    fmt: str,
    extensions: str | None = None,
) -> Response:
    """One request, as the wiki has it: a list of one."""
    _format(fmt)
    found = _one(request, session, settings, number, extensions)
    return _out(fmt, "service_requests", "request", _rows([found]))


@router.get("/request/{number}.{fmt}")
def get_request_swagger(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: Public,
    __: Jurisdiction,
    number: str,
    fmt: str,
    extensions: str | None = None,
) -> Response:
    """One request at the official swagger's address: the request itself, not a list."""
    _format(fmt)
    found = _one(request, session, settings, number, extensions).model_dump(exclude_none=True)
    if fmt == "xml":
        return Response(service.one_xml("request", found), media_type="text/xml; charset=utf-8")
    return JSONResponse(found)


@router.get("/tokens/{token}.{fmt}")
def token(session: DbSession, _: Public, __: Jurisdiction, token: str, fmt: str) -> Response:
    """Requests are taken in at once, so a token is the request's own id."""
    _format(fmt)
    if not service.requests(session, [token], [], None, None, ""):
        raise NotFound(f"no token {token}", field="token")
    return _out(fmt, "service_requests", "request",
                [{"service_request_id": token, "token": token}])  # fmt: skip


@router.get("/media/{number}/{file_id}")
def media(
    session: DbSession,
    settings: AppSettings,
    _: Public,
    number: str,
    file_id: str,
    expires: int,
    signature: str,
) -> Response:
    """A request's photo, as the preview drawn without its EXIF, through a link from the
    request's ``media_url`` until it expires."""
    data, found = service.media_preview(session, settings, number, file_id, expires, signature)
    return files.response(data, found, preview=True)
