"""The Dataspace Protocol 2024-1 HTTPS binding of the catalog, under /dsp: a connector asks
for the catalog of listed data products (with their offers and distributions) or for one
dataset; refusals come back as ``dspace:CatalogError``.

The caller is authenticated as for contract negotiation (a signed-in user or an API key with
``products:contract``): the catalog is what that caller may contract for — the listed products
on offer today, as the product catalog lists them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from citybase.core.web.deps import AppSettings, DbSession
from citybase.data.products import dsp_catalog, protocol
from citybase.data.products.auth import ContractParty
from citybase.data.products.dsp_routes import DspBody, base_url, protocol_route

router = APIRouter(
    prefix="/dsp", tags=["dataspace protocol"], route_class=protocol_route(protocol.CatalogError)
)


@router.post("/catalog/request")
def request_catalog(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    body: DspBody,
) -> JSONResponse:  # fmt: skip
    """A CatalogRequestMessage (``dspace:filter``: words and the facets kind, sector,
    price_model): the ``dcat:Catalog`` of the listed products it finds, each with its ODRL
    offer and its distributions."""
    found = dsp_catalog.request_catalog(session, base_url(request, settings.web.public_url), body)
    return JSONResponse(found.to_json())


@router.get("/catalog/datasets/{dataset_id}")
def read_dataset(
    request: Request, session: DbSession, settings: AppSettings, principal: ContractParty,
    dataset_id: str,
) -> JSONResponse:  # fmt: skip
    """One listed product as a ``dcat:Dataset`` (its ``@id`` or its number); 404 as a
    ``dspace:CatalogError`` for one not in the catalog."""
    found = dsp_catalog.request_dataset(
        session, base_url(request, settings.web.public_url), dataset_id
    )
    return JSONResponse({"@context": protocol.CONTEXT, **found.to_json()})
