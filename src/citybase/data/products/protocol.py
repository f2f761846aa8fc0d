"""The Dataspace Protocol (数据空间协议), version 2024-1 — the messages a data-space connector
exchanges with citybase about its data products, and the two state machines they drive.

Exactly one version is spoken: **2024-1** (IDSA, the version Eclipse Dataspace Components
connectors speak), in its JSON-LD compact form: ``@context`` names
``https://w3id.org/dspace/2024/1/context.json``, types and properties carry the ``dspace:``
prefix (``"@type": "dspace:ContractRequestMessage"``, ``"dspace:providerPid"``), policies the
``odrl:`` one, catalogs ``dcat:`` and ``dct:``. A message of another version (2025-1 drops the
prefixes) or with a property the version does not define is refused, naming the property.

Covered: the catalog (``dcat:Catalog`` of ``dcat:Dataset`` with ``odrl:hasPolicy`` offers and
``dcat:Distribution``/``dcat:DataService``) and its request messages; contract negotiation
(request, offer, agreement, agreement verification, event ACCEPTED/FINALIZED, termination, the
negotiation ACK and error) with its state machine; transfer (request, start, suspension,
completion, termination, the process ACK and error) with its state machine. The state machines
are pure functions: given the state held and a message from one side, the next state — or an
``IllegalTransition`` saying why not. Not covered here: the HTTPS binding (paths, the
``Authorization`` header), identity and signatures, and reading the ODRL terms (that is
``policies.py``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citybase.core.errors import Conflict, InvalidInput

VERSION = "2024-1"
CONTEXT = "https://w3id.org/dspace/2024/1/context.json"


class ProtocolError(InvalidInput):
    """A message that is not a 2024-1 message: ``field`` names the property at fault."""

    code = "invalid_message"


class IllegalTransition(Conflict):
    """A message the negotiation or transfer in its present state cannot take from its sender."""

    code = "illegal_transition"


class Role(StrEnum):
    provider = "provider"
    consumer = "consumer"


def _has_context(value: Any) -> Any:
    entries = value if isinstance(value, list) else [value]
    if CONTEXT not in entries:
        raise ValueError(f"a {VERSION} message names the context {CONTEXT}")
    return value


class Message(BaseModel):
    """A JSON-LD object of the protocol, read and written with its prefixed names."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    TYPE: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Top(Message):
    """A message on its own (not inside another): it names the context and its type."""

    context: Annotated[Any, Field(alias="@context")] = CONTEXT

    @field_validator("context")
    @classmethod
    def _context(cls, value: Any) -> Any:
        return _has_context(value)


class _Pids(_Top):
    provider_pid: str = Field(alias="dspace:providerPid", min_length=1)
    consumer_pid: str = Field(alias="dspace:consumerPid", min_length=1)


# --- the catalog -------------------------------------------------------------------------------


class OdrlPolicy(BaseModel):
    """An ODRL offer or agreement as the protocol carries it; its rules are read by
    ``policies.compile_policy`` (``terms``), not here."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)
    id: str = Field(alias="@id", min_length=1)
    type: str = Field("odrl:Offer", alias="@type")

    def terms(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Offer(OdrlPolicy):
    type: Literal["odrl:Offer"] = Field("odrl:Offer", alias="@type")


class Agreement(OdrlPolicy):
    type: Literal["odrl:Agreement"] = Field("odrl:Agreement", alias="@type")
    target: str = Field(alias="odrl:target", min_length=1)
    assigner: str = Field(alias="odrl:assigner", min_length=1)
    assignee: str = Field(alias="odrl:assignee", min_length=1)
    timestamp: datetime = Field(alias="dspace:timestamp")


class DataService(Message):
    id: str = Field(alias="@id")
    type: Literal["dcat:DataService"] = Field("dcat:DataService", alias="@type")
    endpoint_description: str | None = Field(None, alias="dcat:endpointDescription")
    endpoint_url: str | None = Field(None, alias="dcat:endpointURL")


class Distribution(Message):
    type: Literal["dcat:Distribution"] = Field("dcat:Distribution", alias="@type")
    format: str = Field(alias="dct:format")
    access_service: DataService | list[DataService] = Field(alias="dcat:accessService")


class Dataset(Message):
    id: str = Field(alias="@id", min_length=1)
    type: Literal["dcat:Dataset"] = Field("dcat:Dataset", alias="@type")
    title: str | None = Field(None, alias="dct:title")
    description: Any = Field(None, alias="dct:description")
    keyword: list[Any] | None = Field(None, alias="dcat:keyword")
    has_policy: list[Offer] = Field(alias="odrl:hasPolicy", min_length=1)
    distribution: Distribution | list[Distribution] | None = Field(None, alias="dcat:distribution")


class Catalog(_Top):
    TYPE: ClassVar[str] = "dcat:Catalog"
    type: Literal["dcat:Catalog"] = Field("dcat:Catalog", alias="@type")
    id: str = Field(alias="@id", min_length=1)
    title: str | None = Field(None, alias="dct:title")
    description: Any = Field(None, alias="dct:description")
    publisher: str | None = Field(None, alias="dct:publisher")
    participant_id: str | None = Field(None, alias="dspace:participantId")
    keyword: list[Any] | None = Field(None, alias="dcat:keyword")
    service: list[DataService] = Field(default_factory=list, alias="dcat:service")
    dataset: list[Dataset] = Field(default_factory=list, alias="dcat:dataset")


class CatalogRequestMessage(_Top):
    TYPE: ClassVar[str] = "dspace:CatalogRequestMessage"
    type: Literal["dspace:CatalogRequestMessage"] = Field(
        "dspace:CatalogRequestMessage", alias="@type"
    )
    filter: list[Any] = Field(default_factory=list, alias="dspace:filter")


class DatasetRequestMessage(_Top):
    TYPE: ClassVar[str] = "dspace:DatasetRequestMessage"
    type: Literal["dspace:DatasetRequestMessage"] = Field(
        "dspace:DatasetRequestMessage", alias="@type"
    )
    dataset: str = Field(alias="dspace:dataset", min_length=1)


class CatalogError(_Top):
    TYPE: ClassVar[str] = "dspace:CatalogError"
    type: Literal["dspace:CatalogError"] = Field("dspace:CatalogError", alias="@type")
    code: str | None = Field(None, alias="dspace:code")
    reason: list[Any] | None = Field(None, alias="dspace:reason")


# --- contract negotiation ----------------------------------------------------------------------


class NegotiationState(StrEnum):
    REQUESTED = "dspace:REQUESTED"
    OFFERED = "dspace:OFFERED"
    ACCEPTED = "dspace:ACCEPTED"
    AGREED = "dspace:AGREED"
    VERIFIED = "dspace:VERIFIED"
    FINALIZED = "dspace:FINALIZED"
    TERMINATED = "dspace:TERMINATED"


class NegotiationEvent(StrEnum):
    ACCEPTED = "dspace:ACCEPTED"
    FINALIZED = "dspace:FINALIZED"


class ContractRequestMessage(_Top):
    """Consumer → provider: ask for a dataset on an offer (starting a negotiation when it names
    no ``providerPid``), or answer the provider's offer with a counter-offer."""

    TYPE: ClassVar[str] = "dspace:ContractRequestMessage"
    type: Literal["dspace:ContractRequestMessage"] = Field(
        "dspace:ContractRequestMessage", alias="@type"
    )
    provider_pid: str | None = Field(None, alias="dspace:providerPid", min_length=1)
    consumer_pid: str = Field(alias="dspace:consumerPid", min_length=1)
    offer: Offer = Field(alias="dspace:offer")
    callback_address: str | None = Field(None, alias="dspace:callbackAddress")


class ContractOfferMessage(_Top):
    """Provider → consumer: an offer (starting a negotiation when it names no ``consumerPid``)."""

    TYPE: ClassVar[str] = "dspace:ContractOfferMessage"
    type: Literal["dspace:ContractOfferMessage"] = Field(
        "dspace:ContractOfferMessage", alias="@type"
    )
    provider_pid: str = Field(alias="dspace:providerPid", min_length=1)
    consumer_pid: str | None = Field(None, alias="dspace:consumerPid", min_length=1)
    offer: Offer = Field(alias="dspace:offer")
    callback_address: str | None = Field(None, alias="dspace:callbackAddress")


class ContractAgreementMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:ContractAgreementMessage"
    type: Literal["dspace:ContractAgreementMessage"] = Field(
        "dspace:ContractAgreementMessage", alias="@type"
    )
    agreement: Agreement = Field(alias="dspace:agreement")
    callback_address: str | None = Field(None, alias="dspace:callbackAddress")


class ContractAgreementVerificationMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:ContractAgreementVerificationMessage"
    type: Literal["dspace:ContractAgreementVerificationMessage"] = Field(
        "dspace:ContractAgreementVerificationMessage", alias="@type"
    )


class ContractNegotiationEventMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:ContractNegotiationEventMessage"
    type: Literal["dspace:ContractNegotiationEventMessage"] = Field(
        "dspace:ContractNegotiationEventMessage", alias="@type"
    )
    event_type: NegotiationEvent = Field(alias="dspace:eventType")


class ContractNegotiationTerminationMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:ContractNegotiationTerminationMessage"
    type: Literal["dspace:ContractNegotiationTerminationMessage"] = Field(
        "dspace:ContractNegotiationTerminationMessage", alias="@type"
    )
    code: str | None = Field(None, alias="dspace:code")
    reason: list[Any] | None = Field(None, alias="dspace:reason")


class ContractNegotiation(_Pids):
    """The ACK: a negotiation and the state it is in, as both sides hold it."""

    TYPE: ClassVar[str] = "dspace:ContractNegotiation"
    type: Literal["dspace:ContractNegotiation"] = Field("dspace:ContractNegotiation", alias="@type")
    state: NegotiationState = Field(alias="dspace:state")


class ContractNegotiationError(_Top):
    TYPE: ClassVar[str] = "dspace:ContractNegotiationError"
    type: Literal["dspace:ContractNegotiationError"] = Field(
        "dspace:ContractNegotiationError", alias="@type"
    )
    provider_pid: str | None = Field(None, alias="dspace:providerPid")
    consumer_pid: str | None = Field(None, alias="dspace:consumerPid")
    code: str | None = Field(None, alias="dspace:code")
    reason: list[Any] | None = Field(None, alias="dspace:reason")


# --- transfer ----------------------------------------------------------------------------------


class TransferState(StrEnum):
    REQUESTED = "dspace:REQUESTED"
    STARTED = "dspace:STARTED"
    SUSPENDED = "dspace:SUSPENDED"
    COMPLETED = "dspace:COMPLETED"
    TERMINATED = "dspace:TERMINATED"


class EndpointProperty(Message):
    type: Literal["dspace:EndpointProperty"] = Field("dspace:EndpointProperty", alias="@type")
    name: str = Field(alias="dspace:name", min_length=1)
    value: str = Field(alias="dspace:value")


class DataAddress(Message):
    type: Literal["dspace:DataAddress"] = Field("dspace:DataAddress", alias="@type")
    endpoint_type: str = Field(alias="dspace:endpointType", min_length=1)
    endpoint: str | None = Field(None, alias="dspace:endpoint")
    endpoint_properties: list[EndpointProperty] = Field(
        default_factory=list, alias="dspace:endpointProperties"
    )


class TransferRequestMessage(_Top):
    TYPE: ClassVar[str] = "dspace:TransferRequestMessage"
    type: Literal["dspace:TransferRequestMessage"] = Field(
        "dspace:TransferRequestMessage", alias="@type"
    )
    consumer_pid: str = Field(alias="dspace:consumerPid", min_length=1)
    agreement_id: str = Field(alias="dspace:agreementId", min_length=1)
    format: str = Field(alias="dct:format", min_length=1)
    data_address: DataAddress | None = Field(None, alias="dspace:dataAddress")
    callback_address: str = Field(alias="dspace:callbackAddress", min_length=1)


class TransferStartMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:TransferStartMessage"
    type: Literal["dspace:TransferStartMessage"] = Field(
        "dspace:TransferStartMessage", alias="@type"
    )
    data_address: DataAddress | None = Field(None, alias="dspace:dataAddress")


class TransferSuspensionMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:TransferSuspensionMessage"
    type: Literal["dspace:TransferSuspensionMessage"] = Field(
        "dspace:TransferSuspensionMessage", alias="@type"
    )
    code: str | None = Field(None, alias="dspace:code")
    reason: list[Any] | None = Field(None, alias="dspace:reason")


class TransferCompletionMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:TransferCompletionMessage"
    type: Literal["dspace:TransferCompletionMessage"] = Field(
        "dspace:TransferCompletionMessage", alias="@type"
    )


class TransferTerminationMessage(_Pids):
    TYPE: ClassVar[str] = "dspace:TransferTerminationMessage"
    type: Literal["dspace:TransferTerminationMessage"] = Field(
        "dspace:TransferTerminationMessage", alias="@type"
    )
    code: str | None = Field(None, alias="dspace:code")
    reason: list[Any] | None = Field(None, alias="dspace:reason")


class TransferProcess(_Pids):
    """The ACK: a transfer process and the state it is in."""

    TYPE: ClassVar[str] = "dspace:TransferProcess"
    type: Literal["dspace:TransferProcess"] = Field("dspace:TransferProcess", alias="@type")
    state: TransferState = Field(alias="dspace:state")


class TransferError(_Top):
    TYPE: ClassVar[str] = "dspace:TransferError"
    type: Literal["dspace:TransferError"] = Field("dspace:TransferError", alias="@type")
    provider_pid: str | None = Field(None, alias="dspace:providerPid")
    consumer_pid: str | None = Field(None, alias="dspace:consumerPid")
    code: str | None = Field(None, alias="dspace:code")
    reason: list[Any] | None = Field(None, alias="dspace:reason")


# --- reading a message -------------------------------------------------------------------------

MESSAGES: dict[str, type[_Top]] = {
    cls.TYPE: cls
    for cls in (
        Catalog, CatalogRequestMessage, DatasetRequestMessage, CatalogError, ContractRequestMessage,
        ContractOfferMessage, ContractAgreementMessage, ContractAgreementVerificationMessage,
        ContractNegotiationEventMessage, ContractNegotiationTerminationMessage,
        ContractNegotiation, ContractNegotiationError, TransferRequestMessage, TransferStartMessage,
        TransferSuspensionMessage, TransferCompletionMessage, TransferTerminationMessage,
        TransferProcess, TransferError,
    )
}  # fmt: skip


def parse_message(body: Any, expected: type[_Top] | None = None) -> _Top:
    """A 2024-1 message from its JSON, or ``ProtocolError`` naming the property at fault."""
    if not isinstance(body, dict):
        raise ProtocolError("a message is a JSON object", field="body")
    kind = body.get("@type")
    cls = MESSAGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        unprefixed = isinstance(kind, str) and f"dspace:{kind}" in MESSAGES
        raise ProtocolError(
            f"unknown message type {kind!r}"
            + (f" (version {VERSION} writes dspace:{kind})" if unprefixed else ""),
            field="@type",
        )
    if expected is not None and cls is not expected:
        raise ProtocolError(f"expected {expected.TYPE}, not {kind}", field="@type")
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ProtocolError(f"{where}: {first['msg']}", field=where) from None


# --- the state machines ------------------------------------------------------------------------

N = NegotiationState
# (message, sender) → {state held (None: no negotiation yet) → next state}
NEGOTIATION: dict[tuple[str, Role], dict[NegotiationState | None, NegotiationState]] = {
    (ContractRequestMessage.TYPE, Role.consumer): {None: N.REQUESTED, N.OFFERED: N.REQUESTED},
    (ContractOfferMessage.TYPE, Role.provider): {None: N.OFFERED, N.REQUESTED: N.OFFERED},
    ("dspace:ACCEPTED", Role.consumer): {N.OFFERED: N.ACCEPTED},
    (ContractAgreementMessage.TYPE, Role.provider): {N.REQUESTED: N.AGREED, N.ACCEPTED: N.AGREED},
    (ContractAgreementVerificationMessage.TYPE, Role.consumer): {N.AGREED: N.VERIFIED},
    ("dspace:FINALIZED", Role.provider): {N.VERIFIED: N.FINALIZED},
    **{
        (ContractNegotiationTerminationMessage.TYPE, role): {
            s: N.TERMINATED for s in N if s not in (N.FINALIZED, N.TERMINATED)
        }
        for role in Role
    },
}  # fmt: skip
T = TransferState
TRANSFER: dict[tuple[str, Role], dict[TransferState | None, TransferState]] = {
    (TransferRequestMessage.TYPE, Role.consumer): {None: T.REQUESTED},
    (TransferStartMessage.TYPE, Role.provider): {T.REQUESTED: T.STARTED, T.SUSPENDED: T.STARTED},
    # the consumer may ask to restart a transfer it or the provider suspended, not start one
    (TransferStartMessage.TYPE, Role.consumer): {T.SUSPENDED: T.STARTED},
    **{(TransferSuspensionMessage.TYPE, role): {T.STARTED: T.SUSPENDED} for role in Role},
    **{(TransferCompletionMessage.TYPE, role): {T.STARTED: T.COMPLETED} for role in Role},
    **{
        (TransferTerminationMessage.TYPE, role): {
            s: T.TERMINATED for s in (T.REQUESTED, T.STARTED, T.SUSPENDED)
        }
        for role in Role
    },
}  # fmt: skip


S = TypeVar("S", NegotiationState, TransferState)


def _next(
    table: dict[tuple[str, Role], dict[S | None, S]], key: str, sender: Role, held: S | None,
    finals: tuple[S, ...], what: str,
) -> S:  # fmt: skip
    if held in finals:
        raise IllegalTransition(f"the {what} is {held}, a final state: no message moves it")
    moves = table.get((key, sender))
    if moves is None:
        senders = [r.value for r in Role if (key, r) in table]
        raise IllegalTransition(
            f"{key} is sent by the {' or '.join(senders) or 'nobody'}, not the {sender.value}",
            field="@type",
        )
    if held not in moves:
        where = "before any" if held is None else f"in state {held}"
        starts = ", ".join("(none)" if s is None else str(s) for s in moves)
        raise IllegalTransition(
            f"{key} cannot be taken {where} {what}: it moves a {what} from {starts}",
            field="@type",
        )
    return moves[held]


def _pids_match(held: _Pids | None, message: _Top) -> None:
    if held is None:
        if getattr(message, "provider_pid", None) and isinstance(message, ContractRequestMessage):
            raise IllegalTransition(
                f"no negotiation {message.provider_pid} is known here", field="dspace:providerPid"
            )
        return
    for name, alias in (
        ("provider_pid", "dspace:providerPid"),
        ("consumer_pid", "dspace:consumerPid"),
    ):
        theirs = getattr(message, name, None)
        if theirs != getattr(held, name):
            raise IllegalTransition(
                f"{alias} {theirs!r} is not this process's ({getattr(held, name)!r})",
                field=alias,
            )


def negotiation_step(
    held: ContractNegotiation | None, message: _Top, sender: Role, *, own_pid: str = ""
) -> ContractNegotiation:
    """The negotiation after ``message`` from ``sender``: ``held`` is the negotiation as it is,
    ``None`` when the message starts one — then ``own_pid`` is the id this side gives it (the
    other side's is in the message). Raises ``IllegalTransition`` for a message the spec does
    not allow from that sender in that state."""
    if isinstance(message, ContractNegotiationEventMessage):
        key = message.event_type.value
    elif isinstance(message, _Top) and message.TYPE in {k for k, _ in NEGOTIATION}:
        key = message.TYPE
    else:
        raise IllegalTransition(f"{message.TYPE} is not a contract negotiation message")
    state = _next(
        NEGOTIATION, key, sender, held.state if held else None, (N.FINALIZED, N.TERMINATED),
        "negotiation",
    )  # fmt: skip
    _pids_match(held, message)
    if held is not None:
        return held.model_copy(update={"state": state})
    consumer = getattr(message, "consumer_pid", None) or own_pid
    provider = getattr(message, "provider_pid", None) or own_pid
    if not (consumer and provider):
        missing = "dspace:consumerPid" if not consumer else "dspace:providerPid"
        raise IllegalTransition(f"a new negotiation needs its {missing}", field=missing)
    return ContractNegotiation.model_validate(
        {"dspace:providerPid": provider, "dspace:consumerPid": consumer, "dspace:state": state}
    )


def transfer_step(
    held: TransferProcess | None, message: _Top, sender: Role, *, own_pid: str = ""
) -> TransferProcess:
    """The transfer process after ``message`` from ``sender``: ``held`` ``None`` for the
    consumer's request that starts one, which the provider names ``own_pid``."""
    if message.TYPE not in {k for k, _ in TRANSFER}:
        raise IllegalTransition(f"{message.TYPE} is not a transfer message")
    state = _next(
        TRANSFER, message.TYPE, sender, held.state if held else None,
        (T.COMPLETED, T.TERMINATED), "transfer",
    )  # fmt: skip
    _pids_match(held, message)
    if held is not None:
        return held.model_copy(update={"state": state})
    if not own_pid:
        raise IllegalTransition(
            "a new transfer needs its dspace:providerPid", field="dspace:providerPid"
        )
    return TransferProcess.model_validate({
        "dspace:providerPid": own_pid, "dspace:consumerPid": getattr(message, "consumer_pid", ""),
        "dspace:state": state,
    })  # fmt: skip
