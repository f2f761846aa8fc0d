"""Open data's API: the DCAT-AP catalog, downloads, and applications for conditional opening."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Header, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from rdflib import Graph
from sqlalchemy.orm import Session

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.net import OutboundPolicy
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.web.access import Public
from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.opendata import dcat, harvest, service
from citybase.data.opendata.auth import OpenDecider, OpenHarvester
from citybase.data.opendata.ckan import base_url
from citybase.data.opendata.schemas import (
    ApplicationCreate,
    ApplicationDecision,
    ApplicationRead,
    ApplicationReceipt,
    ApplicationStatus,
    HarvestReport,
    HarvestRunRead,
    HarvestSourceCreate,
    HarvestSourceRead,
    OpenDataset,
)


class NotAcceptable(CitybaseError):
    status_code = 406
    code = "not_acceptable"


router = APIRouter(tags=["open data"])


def catalog_title(session: DbSession, settings: Settings) -> tuple[str, tuple[str, str]]:
    """The catalog's title and its publisher (the city, as the body that opens its data)."""
    try:
        city = orgs.get_region(session, settings.city_code).name
    except Exception:
        city = settings.city_code
    return f"{city}公共数据开放目录", (settings.city_code, f"{city}人民政府")


def uris_for(
    request: Request, session: Session, settings: Settings, regions: list[str]
) -> dcat.Uris:
    base = base_url(request, settings.web.public_url)
    return dcat.Uris(base, orgs.region_names(session, [*regions, settings.city_code]))


def rdf_response(graph: Graph, suffix: str) -> Response:
    name, media_type = dcat.FORMATS[suffix]
    return Response(dcat.serialize(graph, name), media_type=media_type,
                    headers={"Vary": "Accept"})  # fmt: skip


def _themes(datasets: list[OpenDataset]) -> list[str]:
    return sorted({t for d in datasets for t in d.themes}, key=service.theme_name)


@router.get("/catalog.{suffix}")
def catalog_document(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    suffix: str,
    _: Public,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
) -> Response:
    """The open catalog as DCAT-AP 3: ``ttl`` (Turtle), ``jsonld`` (JSON-LD, context inline),
    ``rdf`` or ``xml`` (RDF/XML). Past 100 datasets it is paged: ``?page=N``, with hydra's
    first, next, previous and last pages in the document."""
    if suffix not in dcat.FORMATS:
        raise NotFound(f"no catalog format {suffix[:20]} (ttl, jsonld, rdf or xml)", field="format")
    return _catalog(request, session, settings, suffix, page)


@router.get("/catalog")
def catalog(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    _: Public,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
) -> Response:
    """The catalog's URI: RDF by content negotiation (Turtle, JSON-LD, RDF/XML), the portal for
    a browser, 406 for an ``Accept`` that names neither."""
    suffix = _negotiated(request, "/open")
    if isinstance(suffix, Response):
        return suffix
    return _catalog(request, session, settings, suffix, page)


def _negotiated(request: Request, page: str) -> str | Response:
    accept = request.headers.get("accept", "") or "*/*"
    suffix = dcat.negotiate(accept)
    if suffix is not None:
        return suffix
    if "html" in accept or "*/*" in accept or "text/*" in accept:
        return RedirectResponse(page, status_code=303, headers={"Vary": "Accept"})
    raise NotAcceptable("this URI is served as text/html, text/turtle, application/ld+json or "
                        "application/rdf+xml", field="accept")  # fmt: skip


def _catalog(
    request: Request, session: Session, settings: Settings, suffix: str, number: int
) -> Response:
    everything = service.datasets(session, base_url(request, settings.web.public_url))
    page = dcat.Page(number, len(everything), dcat.DATASETS_PER_PAGE)
    if number > page.last:
        raise NotFound(f"the catalog has {page.last} pages", field="page")
    datasets = everything[(number - 1) * page.size : number * page.size]
    uris = uris_for(request, session, settings, [d.region_code for d in datasets])
    title, publisher = catalog_title(session, settings)
    graph = dcat.catalog_graph(datasets, uris, title=title, publisher=publisher,
                               themes=_themes(everything), page=page, suffix=suffix,
                               modified=max((d.updated_at for d in everything), default=None))  # fmt: skip
    return rdf_response(graph, suffix)


@router.get("/open/{code}/dcat.{suffix}")
def dataset_rdf(
    request: Request, session: DbSession, settings: AppSettings, code: str, suffix: str, _: Public
) -> Response:
    """One open dataset as DCAT-AP (``ttl``, ``jsonld``, ``rdf`` or ``xml``)."""
    if suffix not in dcat.FORMATS:
        raise NotFound(f"no format {suffix[:20]} (ttl, jsonld, rdf or xml)", field="format")
    ds = service.dataset(session, code, base_url(request, settings.web.public_url))
    uris = uris_for(request, session, settings, [ds.region_code])
    return rdf_response(dcat.dataset_graph(ds, uris), suffix)


@router.get("/open/themes")
def theme_scheme(
    request: Request, session: DbSession, settings: AppSettings, _: Public
) -> Response:
    """The catalog's own classification (its theme libraries) as a SKOS concept scheme."""
    suffix = _negotiated(request, "/open")
    if isinstance(suffix, Response):
        return suffix
    uris = uris_for(request, session, settings, [])
    return rdf_response(dcat.scheme_graph(uris, _themes(service.datasets(session))), suffix)


@router.get("/open/themes/{name}")
def theme_concept(
    request: Request, session: DbSession, settings: AppSettings, name: str, _: Public
) -> Response:
    """One theme library as a SKOS concept (matched to the EU data themes)."""
    theme = next((t for t in _themes(service.datasets(session)) if service.theme_name(t) == name),
                 None)  # fmt: skip
    if theme is None:
        raise NotFound(f"no theme {name[:40]} in the open catalog", field="theme")
    suffix = _negotiated(request, f"/open?theme={quote(theme)}")
    if isinstance(suffix, Response):
        return suffix
    return rdf_response(dcat.theme_graph(uris_for(request, session, settings, []), theme), suffix)


@router.get("/open/units/{code}")
def publisher(
    request: Request, session: DbSession, settings: AppSettings, code: str, _: Public
) -> Response:
    """A publisher of the catalog (a providing unit, or the city for the catalog itself)."""
    if code == settings.city_code:
        name = catalog_title(session, settings)[1][1]
    else:
        names = {d.unit_code: d.unit_name for d in service.datasets(session)}
        if code not in names:
            raise NotFound(f"no unit {code[:40]} publishes open data", field="code")
        name = names[code]
    suffix = _negotiated(request, f"/open?unit={quote(code)}")
    if isinstance(suffix, Response):
        return suffix
    return rdf_response(dcat.agent_graph(uris_for(request, session, settings, []), code, name),
                        suffix)  # fmt: skip


@router.get("/open/regions/{code}")
def place(
    request: Request, session: DbSession, settings: AppSettings, code: str, _: Public
) -> Response:
    """A place the catalog names (an administrative division, by its code)."""
    if not orgs.region_names(session, [code]):
        raise NotFound(f"no region {code[:40]}", field="code")
    suffix = _negotiated(request, f"/open?region={quote(code)}")
    if isinstance(suffix, Response):
        return suffix
    return rdf_response(
        dcat.place_graph(uris_for(request, session, settings, [code]), code), suffix
    )


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


# --- harvesting other catalogs (DCAT-AP import) ------------------------------------------------


@router.post("/api/v1/open/harvest")
def harvest_file(
    session: DbSession, principal: OpenHarvester, file: UploadFile,
    unit_code: Annotated[str, Form(description="The unit whose drafts they become")],
    classification: Annotated[str, Form(description="分类码 of the drafts")],
    dry_run: Annotated[bool, Form()] = False,
) -> HarvestReport:  # fmt: skip
    """Harvest a DCAT-AP catalog document (Turtle, JSON-LD with its context inline, RDF/XML):
    each dataset becomes a draft of the unit, or updates the draft of an earlier harvest. A
    dataset that cannot be registered is reported with why; the others are registered."""
    name = file.filename or "catalog"
    pages = [harvest.parse(file.file.read(), harvest.parser_for(name, file.content_type or ""))]
    return harvest.harvest(session, principal, pages, origin=name, unit_code=unit_code,
                           classification=classification, dry_run=dry_run)  # fmt: skip


@router.get("/api/v1/open/harvest/sources")
def harvest_sources(session: DbSession, principal: OpenHarvester) -> list[HarvestSourceRead]:
    return harvest.sources(session)


@router.post("/api/v1/open/harvest/sources", status_code=201)
def add_harvest_source(
    session: DbSession, principal: OpenHarvester, data: HarvestSourceCreate
) -> HarvestSourceRead:
    """Register a catalog to harvest from its address (the address must be one the platform may
    call: see ``CITYBASE_WEB__OUTBOUND_ALLOW`` for a district's catalog on a private network)."""
    return harvest.add_source(session, principal, data)


@router.post("/api/v1/open/harvest/sources/{source_id}/run")
def run_harvest_source(
    session: DbSession, settings: AppSettings, principal: OpenHarvester, source_id: int,
    dry_run: bool = False,
) -> HarvestReport:  # fmt: skip
    """Harvest the source now, every page of it."""
    policy = OutboundPolicy.parse(settings.web.outbound_allow)
    return harvest.run_source(session, principal, source_id, policy, dry_run=dry_run)


@router.get("/api/v1/open/harvest/runs")
def harvest_runs(session: DbSession, principal: OpenHarvester) -> list[HarvestRunRead]:
    """The harvests of the caller's unit (every unit's for the platform's admins), newest first."""
    return harvest.runs(session, principal)
