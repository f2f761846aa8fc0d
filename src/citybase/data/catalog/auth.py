"""The catalog's permissions and the dependencies its routes use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

CATALOG_READ = identity.define_permission("catalog:read", "Browse the data resource catalog", *Role)
CATALOG_EDIT = identity.define_permission(
    "catalog:edit",
    "Register and change the data resources of one's own unit",
    Role.data_steward,
    Role.unit_admin,
)
CATALOG_REVIEW = identity.define_permission(
    "catalog:review",
    "Review, register and publish other units' data resources",
    Role.data_steward,
)

CatalogReader = Annotated[Principal, Depends(require(CATALOG_READ))]
CatalogEditor = Annotated[Principal, Depends(require(CATALOG_EDIT))]
CatalogReviewer = Annotated[Principal, Depends(require(CATALOG_REVIEW))]
