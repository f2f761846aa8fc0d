"""Transfer processes (数据传输) of the Dataspace Protocol 2024-1 under data-product contracts,
citybase as the provider.

A customer's connector sends a TransferRequestMessage naming one of its company's contracts
(``dspace:agreementId``: the contract's ODRL Agreement ``@id``, or its number) and the format
``HttpData-PULL``. The contract is checked — the caller's company is its customer, it is in
force, its product's operation agreement is live, its product's kind can be pulled — and
nothing is stored when one of these fails. The provider then starts the transfer at once: its
TransferStartMessage carries a ``dspace:DataAddress`` pointing at the contract's delivery
endpoint (the signed file for a dataset or a report, the rows for an API) with a bearer token,
a short-lived API key of the requesting user scoped ``products:deliver``
(``identity.issue_delegated_key``, the platform's API keys — no other token scheme). A pull
with that token is a delivery of the contract like any other (decided by its policy, traced,
metered) and is served only while the transfer is STARTED (rule ``transfer.started``).

Every state change is taken by ``protocol.transfer_step`` and goes on the ledger
(``products.transfer.requested|started|suspended|completed|terminated``); completion and
termination end the token. Revoking a contract terminates its open transfers; so does the
hourly expiry of contracts past their term.

The provider's messages are also sent to the consumer's ``callbackAddress`` (``callbacks``): the
TransferStartMessage answers the request (and a restart) and is POSTed to the callback, as are a
completion, suspension or termination the provider makes; ``GET /dsp/transfers/{providerPid}``
answers the state."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, NotFound
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger.schemas import Actor
from citybase.core.settings import ProductsSettings
from citybase.data.products import agreements, callbacks, contracts, protocol, repository
from citybase.data.products.auth import PRODUCTS_DELIVER
from citybase.data.products.contracts import (
    PROVIDER,
    RULE_PARTY,
    accessible_contract,
    contract_state,
)
from citybase.data.products.delivery import RULE_EXPIRED, RULE_MODE, RULE_REVOKED
from citybase.data.products.models import DataProduct, ProductContract, ProductTransfer
from citybase.data.products.protocol import Role as Side
from citybase.data.products.protocol import TransferState as T
from citybase.data.products.schemas import (
    MODES_BY_KIND,
    ContractAction,
    ContractRead,
    ContractStatus,
    DeliveryMode,
)

RULE_FORMAT = "transfer.format"
PULL = "HttpData-PULL"
ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"
OPEN = (T.REQUESTED.value, T.STARTED.value, T.SUSPENDED.value)
ENDPOINTS = {DeliveryMode.file: "file", DeliveryMode.api: "rows"}


# --- reading --------------------------------------------------------------------------------------


def ack(transfer: ProductTransfer) -> protocol.TransferProcess:
    """The transfer as the protocol's ACK (``dspace:TransferProcess``)."""
    return protocol.TransferProcess.model_validate({
        "dspace:providerPid": transfer.provider_pid, "dspace:consumerPid": transfer.consumer_pid,
        "dspace:state": transfer.state,
    })  # fmt: skip


def accessible_transfer(
    session: Session, principal: Principal, settings: ProductsSettings, provider_pid: str
) -> ProductTransfer:
    """A transfer its contract's parties (and the bureau) may read; anyone else: not found."""
    found = repository.transfer_by_pid(session, provider_pid)
    try:
        if found is not None:
            accessible_contract(session, principal, settings, found.contract_id)
    except NotFound:
        found = None
    if found is None:
        raise NotFound(f"no transfer process {provider_pid}", field="providerPid")
    return found


def transfer_ack(
    session: Session, principal: Principal, settings: ProductsSettings, provider_pid: str
) -> protocol.TransferProcess:
    return ack(accessible_transfer(session, principal, settings, provider_pid))


# --- checks before anything is stored -------------------------------------------------------------


def _contract_named(session: Session, principal: Principal, agreement_id: str) -> ProductContract:
    """The contract a ``dspace:agreementId`` names — its agreement's ``@id`` or its number —
    if the caller's company is its customer; any other is not found."""
    found = None
    if agreement_id.startswith("urn:citybase:agreement:"):
        pid = "urn:uuid:" + agreement_id.removeprefix("urn:citybase:agreement:")
        negotiation = repository.negotiation_by_pid(session, pid)
        if negotiation is not None and negotiation.contract_id is not None:
            found = repository.contract(session, negotiation.contract_id)
    else:
        found = repository.contract_by_number(session, agreement_id)
    if found is None or not principal.unit_code or found.customer_unit_code != principal.unit_code:
        raise NotFound(f"no contract agreement {agreement_id} of your company",
                       field="dspace:agreementId")  # fmt: skip
    return found


def _require_live(session: Session, contract: ProductContract, product: DataProduct) -> None:
    state = contract_state(contract)
    if state is ContractStatus.revoked:
        raise Forbidden(f"contract {contract.number} was revoked: {contract.revoke_reason} "
                        f"(rule {RULE_REVOKED})", field="dspace:agreementId", rule=RULE_REVOKED)  # fmt: skip
    if state is ContractStatus.expired:
        raise Forbidden(f"contract {contract.number} ended at {contract.ends_at.isoformat()} "
                        f"(rule {RULE_EXPIRED})", field="dspace:agreementId", rule=RULE_EXPIRED)  # fmt: skip
    if product.agreement_id is not None:
        deal = repository.agreement(session, product.agreement_id)
        reason = agreements.why_not_live(deal) if deal else "its operation agreement is gone"
        if reason:
            raise Forbidden(f"{reason}: its products are not delivered (rule "
                            f"{agreements.RULE_LIVE})", field="dspace:agreementId",
                            rule=agreements.RULE_LIVE)  # fmt: skip


def pull_mode(product: DataProduct, fmt: str) -> DeliveryMode:
    """The mode a pull of the product serves: its signed file where its kind has one, else its
    rows. Only ``HttpData-PULL`` is taken; a sandbox product's rows never leave."""
    if fmt.removeprefix("dspace:") != PULL:
        raise Forbidden(
            f"dct:format {fmt!r} is not served: only {PULL} (the consumer pulls from the data "
            f"address; a push to the consumer's endpoint is not built) (rule {RULE_FORMAT})",
            field="dct:format", rule=RULE_FORMAT,
        )  # fmt: skip
    modes = MODES_BY_KIND.get(product.kind, frozenset())
    for mode in (DeliveryMode.file, DeliveryMode.api):
        if mode in modes:
            return mode
    raise Forbidden(
        f"product {product.number} ({product.kind}) is not transferred: its rows never leave; "
        f"ask its analyses through the contract API (rule {RULE_MODE})",
        field="dct:format", rule=RULE_MODE,
    )  # fmt: skip


def _require_customer(principal: Principal, transfer: ProductTransfer) -> None:
    if principal.unit_code != transfer.customer_unit_code:
        raise Forbidden(f"only the customer sends messages to transfer {transfer.provider_pid} "
                        f"here (rule {RULE_PARTY})", field="unit", rule=RULE_PARTY)  # fmt: skip


# --- moving a transfer ----------------------------------------------------------------------------


def _move(
    session: Session, actor: Actor, transfer: ProductTransfer, message: protocol._Top,
    side: Side, reason: str, details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    moved = protocol.transfer_step(ack(transfer), message, side)
    transfer.state = moved.state.value
    _log(session, actor, transfer, reason, details)
    if side is Side.provider:  # the consumer's connector is told at its callback address
        callbacks.queue(session, transfer.callback_address, "transfers", transfer.consumer_pid,
                        message)  # fmt: skip


def _log(
    session: Session, actor: Actor, transfer: ProductTransfer, reason: str,
    details: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    contracts.record_step(session, actor, transfer, "transfer", reason, {
        "contract": transfer.contract_id, "format": transfer.format, **(details or {})})  # fmt: skip


def _end_token(session: Session, actor: Actor, transfer: ProductTransfer) -> None:
    if transfer.api_key_id is not None:
        identity.revoke_delegated_key(session, actor, transfer.api_key_id)


def _data_address(
    session: Session, principal: Principal, settings: ProductsSettings, base_url: str,
    transfer: ProductTransfer, contract: ProductContract,
) -> tuple[protocol.DataAddress, str]:  # fmt: skip
    """A new token for the transfer (the last one ended) and the data address that carries
    it; returns the address and the token's prefix (what the ledger keeps of it)."""
    _end_token(session, actor_of(principal), transfer)
    expires = min(datetime.now(UTC) + timedelta(hours=settings.transfer_token_hours),
                  contract.ends_at)  # fmt: skip
    key = identity.issue_delegated_key(
        session, principal, f"传输 {contract.number}", [PRODUCTS_DELIVER], expires
    )
    transfer.api_key_id = key.id
    address = protocol.DataAddress.model_validate({
        "dspace:endpointType": ENDPOINT_TYPE, "dspace:endpoint": transfer.endpoint,
        "dspace:endpointProperties": [
            {"@type": "dspace:EndpointProperty", "dspace:name": name, "dspace:value": value}
            for name, value in (("authorization", key.secret), ("authType", "bearer"),
                                ("expiresAt", expires.isoformat()))
        ],
    })  # fmt: skip
    return address, key.prefix


def _pids(transfer: ProductTransfer) -> dict[str, str]:
    return {"dspace:providerPid": transfer.provider_pid,
            "dspace:consumerPid": transfer.consumer_pid}  # fmt: skip


def _start(
    session: Session, principal: Principal, settings: ProductsSettings, base_url: str,
    transfer: ProductTransfer, contract: ProductContract, *, restart: bool = False,
) -> protocol.TransferStartMessage:  # fmt: skip
    """The provider's TransferStartMessage with a fresh data address: REQUESTED → STARTED,
    or — after the consumer's restart already moved it — the same state with a new token."""
    address, prefix = _data_address(session, principal, settings, base_url, transfer, contract)
    message = protocol.TransferStartMessage.model_validate(
        {**_pids(transfer), "dspace:dataAddress": address.to_json()}
    )
    details = {"endpoint": transfer.endpoint, "token": prefix, "mode": transfer.mode}
    if restart:
        _log(session, PROVIDER, transfer, "重新开始传输：新的访问令牌", details)
    else:
        _move(session, PROVIDER, transfer, message, Side.provider, "开始传输", details)
    return message


def request_transfer(
    session: Session, principal: Principal, settings: ProductsSettings, base_url: str, body: Any
) -> protocol.TransferStartMessage:
    """``POST /transfers/request``: a TransferRequestMessage under one of the caller's
    company's contracts. Checked before anything is stored; then the transfer is REQUESTED and
    started at once, and the provider's TransferStartMessage (its data address) answers."""
    message = protocol.parse_message(body, protocol.TransferRequestMessage)
    assert isinstance(message, protocol.TransferRequestMessage)
    contract = _contract_named(session, principal, message.agreement_id)
    if not principal.can(PRODUCTS_DELIVER):
        raise Forbidden("a transfer hands over deliveries: the caller needs products:deliver "
                        f"(rule {RULE_PARTY})", field="unit", rule=RULE_PARTY)  # fmt: skip
    product = repository.product(session, contract.product_id)
    assert product is not None
    _require_live(session, contract, product)
    mode = pull_mode(product, message.format)
    pid = f"urn:uuid:{uuid.uuid4()}"
    state = protocol.transfer_step(None, message, Side.consumer, own_pid=pid).state
    transfer = ProductTransfer(
        provider_pid=pid, consumer_pid=message.consumer_pid, contract_id=contract.id,
        customer_unit_code=contract.customer_unit_code,
        provider_unit_code=contract.provider_unit_code, requested_by=actor_of(principal).name,
        format=message.format, mode=mode.value, state=state.value,
        endpoint=f"{base_url}/api/v1/products/contracts/{contract.id}/{ENDPOINTS[mode]}",
        callback_address=message.callback_address, history=[],
    )  # fmt: skip
    repository.add(session, transfer)
    _log(session, actor_of(principal), transfer, f"请求传输 {contract.number}",
         {"contract_number": contract.number})  # fmt: skip
    return _start(session, principal, settings, base_url, transfer, contract)


def receive_transfer_message(
    session: Session, principal: Principal, settings: ProductsSettings, base_url: str,
    provider_pid: str, body: Any, expected: type[protocol._Top],
) -> protocol.TransferProcess | protocol.TransferStartMessage:  # fmt: skip
    """The consumer's message to a transfer (``/transfers/{providerPid}/…``): read as
    ``expected``, taken by the state machine (ids, sender, state), on the ledger. A restart
    (start after suspension) is answered by the provider's new TransferStartMessage."""
    transfer = accessible_transfer(session, principal, settings, provider_pid)
    _require_customer(principal, transfer)
    message = protocol.parse_message(body, expected)
    actor = actor_of(principal)
    if isinstance(message, protocol.TransferStartMessage):
        contract = repository.contract(session, transfer.contract_id)
        assert contract is not None
        protocol.transfer_step(ack(transfer), message, Side.consumer)  # refuses out of turn
        product = repository.product(session, contract.product_id)
        assert product is not None
        _require_live(session, contract, product)
        _move(session, actor, transfer, message, Side.consumer, "请求重新开始传输")
        return _start(session, principal, settings, base_url, transfer, contract, restart=True)
    said = "; ".join(str(r) for r in getattr(message, "reason", None) or [])
    code = getattr(message, "code", None) or ""
    details = {"code": code} if code else None
    if isinstance(message, protocol.TransferSuspensionMessage):
        _move(session, actor, transfer, message, Side.consumer, said or "暂停传输", details)
    elif isinstance(message, protocol.TransferCompletionMessage):
        _move(session, actor, transfer, message, Side.consumer, "传输完成")
        _end_token(session, actor, transfer)
    elif isinstance(message, protocol.TransferTerminationMessage):
        _move(session, actor, transfer, message, Side.consumer, said or "终止传输", details)
        _end_token(session, actor, transfer)
    return ack(transfer)


# --- when a contract ends -------------------------------------------------------------------------


def terminate_transfers_of(
    session: Session, actor: Actor, contract: ProductContract, rule: str, reason: str
) -> int:
    """The provider terminates the contract's open transfers (their tokens end): the contract
    was revoked or its term is over. Returns how many."""
    ended = repository.transfers_of(session, contract.id, OPEN)
    for transfer in ended:
        message = protocol.TransferTerminationMessage.model_validate(
            {**_pids(transfer), "dspace:code": rule, "dspace:reason": [reason]}
        )
        _move(session, actor, transfer, message, Side.provider, f"{reason} (rule {rule})",
              {"code": rule})  # fmt: skip
        _end_token(session, actor, transfer)
    return len(ended)


def revoke_contract(
    session: Session, principal: Principal, settings: ProductsSettings, contract_id: int,
    data: ContractAction,
) -> ContractRead:  # fmt: skip
    """The provider or the bureau revokes a contract (``contracts.revoke_contract``): its
    deliveries stop at once, and its open transfers are terminated with the rule
    ``contract.revoked``."""
    revoked = contracts.revoke_contract(session, principal, settings, contract_id, data)
    contract = repository.contract(session, contract_id)
    assert contract is not None
    terminate_transfers_of(session, actor_of(principal), contract, RULE_REVOKED, data.reason)
    return revoked


def record_expiries(session: Session, now: datetime | None = None) -> int:
    """``contracts.record_expiries``, and the open transfers of the contracts it ends
    terminated with the rule ``contract.expired``."""
    moment = now or datetime.now(UTC)
    ending = repository.contracts_past_term(session, moment)
    count = contracts.record_expiries(session, moment)
    for contract in ending:
        terminate_transfers_of(session, contracts.TERM, contract, RULE_EXPIRED, "合同期满")
    return count
