"""Render errors in the API's own format: ``{"error": {...}}`` for JSON, a page for the console.

Validation errors name every field at fault; malformed JSON is a 400; unknown routes are 404s;
nothing the caller did wrong becomes a 500.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from citybase.core.errors import Busy, CitybaseError, NotAuthenticated, TooMany
from citybase.core.web.access import iter_routes
from citybase.core.web.once import AlreadySent
from citybase.core.web.templating import console

log = logging.getLogger(__name__)


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/metrics", "/healthz", "/ngsi-ld", "/open311")):
        return False
    return "text/html" in request.headers.get("accept", "")


def open311_error(request: Request, status: int, message: str) -> Response:
    """GeoReport v2's errors: ``<errors><error><code/><description/></error></errors>`` for a
    ``.xml`` path, a JSON list of ``{"code", "description"}`` otherwise."""
    if request.url.path.endswith(".xml"):
        root = ET.Element("errors")
        error = ET.SubElement(root, "error")
        ET.SubElement(error, "code").text = str(status)
        ET.SubElement(error, "description").text = message
        body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
        return Response(body, status_code=status, media_type="text/xml; charset=utf-8")
    return JSONResponse([{"code": status, "description": message}], status_code=status)


NGSI_LD_ERRORS = {"BadRequestData", "InvalidRequest", "ResourceNotFound", "AlreadyExists",
                  "LdContextNotAvailable", "OperationNotSupported", "TooComplexQuery",
                  "TooManyResults", "NoMultiTenantSupport", "NonexistentTenant", "InternalError"}  # fmt: skip
_NGSI_BY_STATUS = {400: "BadRequestData", 404: "ResourceNotFound", 409: "AlreadyExists",
                   422: "BadRequestData", 405: "OperationNotSupported"}  # fmt: skip


def problem_details(status: int, code: str, detail: str) -> Response:
    """NGSI-LD's errors: ProblemDetails (RFC 7807) with the ETSI error types."""
    kind = code if code in NGSI_LD_ERRORS else _NGSI_BY_STATUS.get(status)
    error_type = f"https://uri.etsi.org/ngsi-ld/errors/{kind}" if kind else \
        f"https://citybase.example/errors/{code}"  # fmt: skip
    return JSONResponse({"type": error_type, "title": kind or code, "detail": detail,
                         "status": status}, status_code=status,
                        media_type="application/json")  # fmt: skip


def _ngsi_ld(request: Request) -> bool:
    return request.url.path.startswith("/ngsi-ld/")


def _open311(request: Request) -> bool:
    return request.url.path.startswith("/open311/")


def _ckan(request: Request) -> bool:
    return request.url.path.startswith(("/api/3/action/", "/api/action/"))


_CKAN_TYPES = {400: "Bad request", 403: "Authorization Error", 404: "Not Found Error",
               409: "Validation Error", 422: "Validation Error"}  # fmt: skip


def ckan_error(request: Request, status: int, message: str) -> Response:
    """CKAN's envelope for an error met before (or beneath) an action: ``{"help", "success":
    false, "error": {"__type", "message"}}``, so that a CKAN client reads every refusal."""
    name = request.url.path.rstrip("/").rsplit("/", 1)[-1]
    kind = _CKAN_TYPES.get(status, "Internal Server Error" if status >= 500 else "Bad request")
    body = {"help": f"{str(request.base_url).rstrip('/')}/api/3/action/help_show?name={name}",
            "success": False, "error": {"__type": kind, "message": message}}  # fmt: skip
    return JSONResponse(body, status_code=409 if status == 422 else status)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _page(request: Request, status: int, title: str, message: str) -> Response:
    return console.render(
        request, "error.html", {"status": status, "title": title, "message": message}, status
    )


async def _citybase_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CitybaseError)
    if isinstance(exc, (TooMany, Busy)):
        retry = {"Retry-After": str(exc.retry_after)}
        if _open311(request):
            response = open311_error(request, exc.status_code, exc.message)
        elif _ngsi_ld(request):
            response = problem_details(exc.status_code, exc.code, exc.message)
        elif wants_html(request):
            response = _page(request, exc.status_code, "Error", exc.message)
        else:
            response = JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code)
        response.headers.update(retry)
        return response
    if _ckan(request):
        return ckan_error(request, exc.status_code, exc.message)
    if _open311(request):
        field = f"{exc.field}: " if exc.field else ""
        # GeoReport v2 answers a request it cannot take with 400, never 422
        status = 400 if exc.status_code == 422 else exc.status_code
        return open311_error(request, status, field + exc.message)
    if _ngsi_ld(request):
        return problem_details(exc.status_code, exc.code, exc.message)
    if wants_html(request):
        if isinstance(exc, NotAuthenticated):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            # a citizen's own pages sign in by SMS on the portal, never on the staff's page
            login = "/portal/signin" if request.url.path.startswith("/portal/") else "/login"
            return RedirectResponse(f"{login}?next={quote(target)}", status_code=303)
        title = {403: "Forbidden", 404: "Page not found"}.get(exc.status_code, "Error")
        # the page names the field by its label (``error_line``), as a form does
        field = f"{exc.field}: " if exc.field and exc.field.isidentifier() else ""
        return _page(request, exc.status_code, title, field + exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    return JSONResponse({"error": exc.to_dict()}, status_code=exc.status_code, headers=headers)


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        detail = first.get("ctx", {}).get("error", "")
        return JSONResponse(
            error_body(
                "malformed_json", f"the request body is not valid JSON: {detail}".strip(": ")
            ),
            status_code=400,
        )
    fields = [
        {"field": _field_of(e["loc"]), "message": e["msg"], "type": e["type"]} for e in errors
    ]
    first = fields[0] if fields else {"field": "body", "message": "invalid"}
    message = f"{first['field']}: {first['message']}"
    if _open311(request):
        return open311_error(request, 400, message)
    if _ckan(request):
        return ckan_error(request, 409, message)
    if _ngsi_ld(request):
        return problem_details(400, "BadRequestData", message)
    if wants_html(request):
        return _page(request, 422, "Error", message)
    return JSONResponse(
        error_body("invalid", message, field=first["field"], fields=fields), status_code=422
    )


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def allowed_methods(request: Request) -> str:
    """Every method some route answers on this path (Starlette's 405 names only the first
    route's, and a path often has a GET route and a POST route)."""
    methods: set[str] = set()
    for full_path, route in iter_routes(request.app.routes):
        if getattr(route, "methods", None) and compile_path(full_path)[0].match(request.url.path):
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


async def render_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An HTTP error (unknown route, wrong method, a body too large) in the API's own format."""
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    if exc.status_code == 405 and "app" in request.scope:
        exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request) or "GET"}
    if _open311(request) or _ckan(request):
        render = open311_error if _open311(request) else ckan_error
        response = render(request, exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})  # Allow on a 405
        return response
    if _ngsi_ld(request):
        response = problem_details(exc.status_code, code if exc.status_code == 413 else "",
                                   str(exc.detail))  # fmt: skip
        response.headers.update(exc.headers or {})
        return response
    if wants_html(request):
        title = "Page not found" if exc.status_code == 404 else "Error"
        return _page(request, exc.status_code, title, str(exc.detail))
    extra = {"field": "body"} if exc.status_code == 413 else {}
    return JSONResponse(
        error_body(code, str(exc.detail), **extra), status_code=exc.status_code,
        headers=exc.headers,
    )  # fmt: skip


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return await render_http_error(request, exc)


def out_of_range(exc: BaseException) -> bool:
    """Whether the database refused a value for its size: an integer beyond 64 bits (SQLite
    raises OverflowError while binding it, SQLAlchemy a TypeError for a LIMIT or OFFSET,
    PostgreSQL a numeric_value_out_of_range DataError)."""
    cause = exc.orig if isinstance(exc, StatementError) else exc
    if isinstance(cause, OverflowError):
        return True
    if isinstance(cause, TypeError) and "exceeds 64-bit range" in str(cause):
        return True  # SQLAlchemy's own check, binding a LIMIT or OFFSET
    return isinstance(exc, DataError) and getattr(cause, "sqlstate", None) == "22003"


async def _database_refused(request: Request, exc: Exception) -> Response:
    """A value that reached the database beyond what its column holds: a shape every request
    schema should have bounded, kept as a caller's 400 rather than a 500 where one was missed."""
    if not out_of_range(exc):
        raise exc  # on to the 500 of ServerErrorMiddleware, as any other failure
    log.warning("a number out of range reached the database on %s %s: %s", request.method,
                request.url.path, exc)  # fmt: skip
    message = "a number is out of range: integers are taken up to 64 bits"
    if _open311(request):
        return open311_error(request, 400, message)
    if _ckan(request):
        return ckan_error(request, 400, message)
    if _ngsi_ld(request):
        return problem_details(400, "BadRequestData", message)
    if wants_html(request):
        return _page(request, 400, "Error", message)
    return JSONResponse(error_body("out_of_range", message), status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if _open311(request):
        return open311_error(request, 500, "internal error; it has been logged")
    if _ckan(request):
        return ckan_error(request, 500, "Internal server error; it has been logged")
    if _ngsi_ld(request):
        return problem_details(500, "InternalError", "internal error; it has been logged")
    if wants_html(request):
        return _page(request, 500, "Something went wrong", "")
    return JSONResponse(
        error_body("internal", "internal error; it has been logged"), status_code=500
    )


async def _already_sent(request: Request, exc: Exception) -> Response:
    """A form sent a second time with the same token: show the first one's result."""
    assert isinstance(exc, AlreadySent)
    if exc.result:
        return RedirectResponse(exc.result, status_code=303)
    message = "this form has already been sent: it was taken once"
    if wants_html(request):
        return _page(request, 409, "Error", message)
    return JSONResponse(error_body("already_sent", message, field="form"), status_code=409)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AlreadySent, _already_sent)
    app.add_exception_handler(CitybaseError, _citybase_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OverflowError, _database_refused)
    app.add_exception_handler(StatementError, _database_refused)
    app.add_exception_handler(Exception, _unexpected)
