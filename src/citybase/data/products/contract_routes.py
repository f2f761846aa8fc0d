"""The contracts API under /api/v1/products: negotiations (a customer asks, the provider offers
and agrees, the customer accepts and verifies, either ends it) and the contracts they make
(read, revoke, the per-contract key). The Dataspace Protocol's own binding is ``dsp_routes``."""

from __future__ import annotations

from fastapi import APIRouter

from citybase.core.identity.schemas import ApiKeyCreated
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Id
from citybase.data.products import service
from citybase.data.products.auth import ContractParty
from citybase.data.products.schemas import (
    ContractAction,
    ContractRead,
    ContractTerms,
    NegotiationAction,
    NegotiationCreate,
    NegotiationRead,
    Termination,
)

router = APIRouter(prefix="/api/v1/products", tags=["data product contracts"])


@router.post("/{product_id}/negotiations", status_code=201)
def request_product(
    session: DbSession, principal: ContractParty, product_id: Id, data: NegotiationCreate
) -> NegotiationRead:
    """A customer company asks for a listed product, for one of its offered purposes."""
    return service.request_product(session, principal, product_id, data)


@router.get("/negotiations")
def list_negotiations(
    session: DbSession, settings: AppSettings, principal: ContractParty
) -> list[NegotiationRead]:
    """The negotiations one's company or unit is a party to (the bureau: all)."""
    return service.get_accessible_negotiations(session, principal, settings.products)


@router.get("/negotiations/{negotiation_id}")
def read_negotiation(
    session: DbSession, settings: AppSettings, principal: ContractParty, negotiation_id: Id
) -> NegotiationRead:
    return service.get_accessible_negotiation(session, principal, settings.products, negotiation_id)


@router.post("/negotiations/{negotiation_id}/offer")
def offer_terms(
    session: DbSession, settings: AppSettings, principal: ContractParty, negotiation_id: Id,
    data: ContractTerms,
) -> NegotiationRead:  # fmt: skip
    """The provider offers its terms: REQUESTED → OFFERED."""
    return service.offer_terms(session, principal, settings.products, negotiation_id, data)


@router.post("/negotiations/{negotiation_id}/accept")
def accept_offer(
    session: DbSession, settings: AppSettings, principal: ContractParty, negotiation_id: Id,
    data: NegotiationAction,
) -> NegotiationRead:  # fmt: skip
    """The customer accepts the offer: OFFERED → ACCEPTED."""
    return service.accept_offer(session, principal, settings.products, negotiation_id, data.reason)


@router.post("/negotiations/{negotiation_id}/agree")
def agree_contract(
    session: DbSession, settings: AppSettings, principal: ContractParty, negotiation_id: Id,
    data: ContractTerms | None = None,
) -> NegotiationRead:  # fmt: skip
    """The provider agrees: ACCEPTED (or REQUESTED, with the terms) → AGREED."""
    return service.agree_contract(session, principal, settings.products, negotiation_id, data)


@router.post("/negotiations/{negotiation_id}/verify")
def verify_agreement(
    session: DbSession, settings: AppSettings, principal: ContractParty, negotiation_id: Id,
    data: NegotiationAction,
) -> NegotiationRead:  # fmt: skip
    """The customer verifies the agreement: AGREED → VERIFIED → FINALIZED, a contract."""
    return service.verify_agreement(
        session, principal, settings.products, negotiation_id, data.reason
    )


@router.post("/negotiations/{negotiation_id}/terminate")
def terminate_negotiation(
    session: DbSession, settings: AppSettings, principal: ContractParty, negotiation_id: Id,
    data: Termination,
) -> NegotiationRead:  # fmt: skip
    return service.terminate_negotiation(
        session, principal, settings.products, negotiation_id, data
    )


@router.get("/contracts")
def list_contracts(
    session: DbSession, settings: AppSettings, principal: ContractParty
) -> list[ContractRead]:
    return service.get_accessible_contracts(session, principal, settings.products)


@router.get("/contracts/{contract_id}")
def read_contract(
    session: DbSession, settings: AppSettings, principal: ContractParty, contract_id: Id
) -> ContractRead:
    return service.get_accessible_contract(session, principal, settings.products, contract_id)


@router.post("/contracts/{contract_id}/revoke")
def revoke_contract(
    session: DbSession, settings: AppSettings, principal: ContractParty, contract_id: Id,
    data: ContractAction,
) -> ContractRead:  # fmt: skip
    """The provider or the bureau revokes a contract: deliveries stop at once."""
    return service.revoke_contract(session, principal, settings.products, contract_id, data)


@router.post("/contracts/{contract_id}/key", status_code=201)
def issue_contract_key(
    session: DbSession, settings: AppSettings, principal: ContractParty, contract_id: Id
) -> ApiKeyCreated:
    """The customer's per-contract key (shown once): deliveries of the contract take it only."""
    return service.issue_contract_key(session, principal, settings, contract_id)
