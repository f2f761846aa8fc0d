"""Open311 GeoReport v2 at ``/open311/v2/``: JSON or XML by the path's suffix, errors in the
spec's own format. Reading is public; posting a request needs an ``api_key`` whose owner may take
cases in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from citybase.core.errors import CitybaseError, Forbidden, InvalidInput, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.values import check_date
from citybase.core.web.access import Public, declares_access
from citybase.core.web.deps import AppSettings, DbSession
from citybase.hub.cases.auth import CASES_INTAKE
from citybase.services.hotline import service

router = APIRouter(prefix="/open311/v2", tags=["Open311 GeoReport v2"])


def _format(fmt: str) -> str:
    if fmt not in ("json", "xml"):
        raise NotFound(f"no format {fmt}: use .json or .xml", field="format")
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
    """The posted form's text fields. Read here, in the one step that must wait for the network,
    so that what touches the database is a plain function that runs off the event loop: a
    writer that waits for another's lock there would stop the loop that other needs to commit.
    GeoReport v2 posts forms; an XML (or JSON) body is refused as such, never parsed."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORMS:
        raise NotAForm(f"a request is posted as a form ({' or '.join(FORMS)}), not "
                       f"{kind or 'a body of no type'}", field="content-type")  # fmt: skip
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str)}


PostedForm = Annotated[dict[str, str], Depends(posted_form)]


@declares_access("an Open311 api_key (form field) whose owner may take cases in")
def open311_key(session: DbSession, form: PostedForm) -> Principal:
    raw = form.get("api_key")
    principal = identity.principal_from_api_key(session, raw) if raw is not None else None
    if principal is None:
        raise Forbidden("a valid api_key is required", field="api_key")
    if not principal.can(CASES_INTAKE):
        raise Forbidden(f"this api_key may not post requests (needs {CASES_INTAKE})",
                        field="api_key")  # fmt: skip
    return principal


KeyHolder = Annotated[Principal, Depends(open311_key)]


@router.get("/services.{fmt}")
def services(session: DbSession, _: Public, fmt: str) -> Response:
    """Every 小类 and 细类 of the event taxonomy, grouped by 大类."""
    rows = [s.model_dump() for s in service.services(session)]
    return _out(fmt, "services", "service", rows)


@router.get("/services/{code}.{fmt}")
def service_definition(session: DbSession, _: Public, code: str, fmt: str) -> Response:
    """The service's attributes (紧急程度, a single-value list)."""
    _format(fmt)
    found = service.definition(session, code).model_dump()
    if fmt == "xml":
        return Response(service.one_xml("service_definition", found),
                        media_type="text/xml; charset=utf-8")  # fmt: skip
    return JSONResponse(found)


@router.post("/requests.{fmt}", status_code=201)
def post_request(
    session: DbSession, principal: KeyHolder, settings: AppSettings, fmt: str, form: PostedForm
) -> Response:
    """Take a request in (``application/x-www-form-urlencoded`` as the spec has it)."""
    _format(fmt)
    case = service.submit(session, principal, form, settings)
    rows = [{"service_request_id": case.number, "service_notice": service.notice(case),
             "account_id": None}]  # fmt: skip
    return _out(fmt, "service_requests", "request", rows, status=201)


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
    session: DbSession,
    _: Public,
    fmt: str,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    """Requests, newest first (at most 500): by id, service code, date range and status."""
    _format(fmt)
    start, end = _dates(start_date, end_date)
    found = service.requests(session, _split(service_request_id), _split(service_code), start,
                             end, status or "")  # fmt: skip
    return _out(fmt, "service_requests", "request", [r.model_dump() for r in found])


@router.get("/requests/{number}.{fmt}")
def get_request(session: DbSession, _: Public, number: str, fmt: str) -> Response:
    _format(fmt)
    found = service.requests(session, [number], [], None, None, "")
    if not found:
        raise NotFound(f"no request {number}", field="service_request_id")
    return _out(fmt, "service_requests", "request", [found[0].model_dump()])


@router.get("/tokens/{token}.{fmt}")
def token(session: DbSession, _: Public, token: str, fmt: str) -> Response:
    """Requests are taken in at once, so a token is the request's own id."""
    _format(fmt)
    if not service.requests(session, [token], [], None, None, ""):
        raise NotFound(f"no token {token}", field="token")
    return _out(fmt, "service_requests", "request",
                [{"service_request_id": token, "token": token}])  # fmt: skip
