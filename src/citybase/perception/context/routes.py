"""NGSI-LD (ETSI GS CIM 009) at ``/ngsi-ld/v1/``: entities created, retrieved, deleted and
queried, in JSON or JSON-LD, with the ``@context`` from the ``Link`` header or the body; errors as
ProblemDetails. Each verb's routes live in their own module; this one puts them under one
prefix, one check of media types and one refusal of tenants, in the order they are matched."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from citybase.perception.context import (
    batch_routes,
    discovery_routes,
    entity_routes,
    registration_routes,
    subscription_routes,
    temporal_routes,
)
from citybase.perception.context.wire import _media, _tenant

router = APIRouter(
    prefix="/ngsi-ld/v1", tags=["NGSI-LD"], dependencies=[Depends(_media), Depends(_tenant)]
)
for _part in (entity_routes, batch_routes, discovery_routes, subscription_routes,
              registration_routes, temporal_routes):  # fmt: skip
    router.include_router(_part.router)
