"""Open data's API: the DCAT-AP catalog, downloads, and applications for conditional opening."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import Response

from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.opendata import dcat, service
from citybase.data.opendata.auth import OpenDecider
from citybase.data.opendata.ckan import base_url
from citybase.data.opendata.schemas import (
    ApplicationCreate,
    ApplicationDecision,
    ApplicationRead,
    ApplicationReceipt,
    ApplicationStatus,
)

router = APIRouter(tags=["open data"])
RDF_TYPES = {"ttl": ("turtle", "text/turtle"), "jsonld": ("json-ld", "application/ld+json")}


def catalog_title(session: DbSession, settings: Settings) -> tuple[str, tuple[str, str]]:
    """The catalog's title and its publisher (the city, as the body that opens its data)."""
    try:
        city = orgs.get_region(session, settings.city_code).name
    except Exception:
        city = settings.city_code
    return f"{city}公共数据开放目录", (settings.city_code, f"{city}人民政府")


def _rdf(body: bytes, fmt: str) -> Response:
    return Response(body, media_type=RDF_TYPES[fmt][1])


@router.get("/catalog.ttl")
def catalog_turtle(
    request: Request, session: DbSession, settings: AppSettings, _: Public
) -> Response:
    """The open catalog as DCAT-AP, in Turtle."""
    return _catalog(request, session, settings, "ttl")


@router.get("/catalog.jsonld")
def catalog_jsonld(
    request: Request, session: DbSession, settings: AppSettings, _: Public
) -> Response:
    """The open catalog as DCAT-AP, in JSON-LD (context inline)."""
    return _catalog(request, session, settings, "jsonld")


def _catalog(request: Request, session: DbSession, settings: Settings, fmt: str) -> Response:
    base = base_url(request, settings.web.public_url)
    title, publisher = catalog_title(session, settings)
    graph = dcat.catalog_graph(
        service.datasets(session, base), base, title=title, publisher=publisher
    )
    return _rdf(dcat.serialize(graph, RDF_TYPES[fmt][0]), fmt)


@router.get("/open/{code}/dcat.{fmt}")
def dataset_rdf(
    request: Request, session: DbSession, settings: AppSettings, code: str, fmt: str, _: Public
) -> Response:
    """One open dataset as DCAT-AP (``ttl`` or ``jsonld``)."""
    if fmt not in RDF_TYPES:
        return Response(status_code=404)
    base = base_url(request, settings.web.public_url)
    graph = dcat.dataset_graph(service.dataset(session, code, base), base)
    return _rdf(dcat.serialize(graph, RDF_TYPES[fmt][0]), fmt)


def _file(name: str, media_type: str, content: bytes) -> Response:
    return Response(
        content, media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


@router.get("/open/{code}/download.{fmt}")
def download(session: DbSession, code: str, fmt: str, _: Public) -> Response:
    """The rows of an unconditionally open dataset, as CSV, JSON or XLSX."""
    return _file(*service.export(session, code, fmt))


@router.post("/open/{code}/download.{fmt}")
def download_approved(
    session: DbSession,
    code: str,
    fmt: str,
    application: Annotated[str, Form()],
    token: Annotated[str, Form()],
    _: Public,
) -> Response:
    """The rows of a conditionally open dataset, for an approved application (its number and
    token in the form, never in the address)."""
    return _file(*service.export(session, code, fmt, application=application, token=token))


@router.post("/api/v1/open/{code}/applications", status_code=201)
def apply(session: DbSession, code: str, data: ApplicationCreate, _: Public) -> ApplicationReceipt:
    """Apply to use a conditionally open dataset. Keep the token: it is shown once."""
    return service.apply(session, code, data)


@router.get("/api/v1/open/applications/{number}")
def follow(
    session: DbSession,
    number: str,
    token: Annotated[str, Header(alias="X-Application-Token")],
    _: Public,
) -> ApplicationRead:
    """The applicant follows an application with the token from the receipt."""
    return service.follow(session, number, token)


@router.get("/api/v1/open/applications")
def inbox(
    session: DbSession, principal: OpenDecider, status: ApplicationStatus | None = None
) -> list[ApplicationRead]:
    """Applications for one's unit's conditionally open data."""
    return service.inbox(session, principal, status.value if status else None)


@router.post("/api/v1/open/applications/{number}/decision")
def decide(
    session: DbSession, principal: OpenDecider, number: str, data: ApplicationDecision
) -> ApplicationRead:
    """Approve (possibly for fewer days) or refuse with a reason."""
    return service.decide(session, principal, number, data)
