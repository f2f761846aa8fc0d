"""Permissions of authorized operation and data products. Who acts for the bureau (grants,
reviews, lists) is checked in the service too: the stewards of the bureau's unit only."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

PRODUCTS_BROWSE = identity.define_permission(
    "products:browse", "Browse and search the listed data products and the scenarios", *Role
)
PRODUCTS_REGISTER = identity.define_permission(
    "products:register", "Register data products of one's unit (an operator's under its agreement)",
    Role.data_operator, Role.data_steward,
)  # fmt: skip
PRODUCTS_AGREEMENTS = identity.define_permission(
    "products:agreements", "See one's company's operation agreements (the bureau: all) and sign them",
    Role.data_operator, Role.data_steward,
)  # fmt: skip
PRODUCTS_GOVERN = identity.define_permission(
    "products:govern", "Grant operation agreements, review, list and delist data products, keep "
    "the scenario register (the bureau's data stewards)", Role.data_steward,
)  # fmt: skip
PRODUCTS_ASSETS = identity.define_permission(
    "products:assets", "Record and revalue one's unit's data assets",
    Role.data_steward, Role.unit_admin, Role.data_operator,
)  # fmt: skip
PRODUCTS_CONTRACT = identity.define_permission(
    "products:contract", "Take part in contract negotiations for data products (a company's users "
    "as customers, operators and units as providers) and see one's contracts and statements",
    Role.data_consumer, Role.data_operator, Role.data_steward, Role.auditor,
)  # fmt: skip
PRODUCTS_DELIVER = identity.define_permission(
    "products:deliver", "Fetch deliveries of data products under one's company's contracts "
    "(the scope of a per-contract key)", Role.data_consumer,
)  # fmt: skip

ProductsBrowser = Annotated[Principal, Depends(require(PRODUCTS_BROWSE))]
ProductsRegistrar = Annotated[Principal, Depends(require(PRODUCTS_REGISTER))]
AgreementsReader = Annotated[Principal, Depends(require(PRODUCTS_AGREEMENTS))]
ProductsGovernor = Annotated[Principal, Depends(require(PRODUCTS_GOVERN))]
AssetsKeeper = Annotated[Principal, Depends(require(PRODUCTS_ASSETS))]
ContractParty = Annotated[Principal, Depends(require(PRODUCTS_CONTRACT))]
DeliveryReader = Annotated[Principal, Depends(require(PRODUCTS_DELIVER))]
