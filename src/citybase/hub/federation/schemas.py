"""The messages of the exchange between the city's brain and the districts', and what the
status shows.

Every message is a typed model with a ``kind`` and a ``version``; its subject is
``citybase.federation.v<version>.<district>.<up|down>.<kind>`` — ``up`` from a district to the
city, ``down`` from the city to a district — so that each side's durable consumer takes its own
and a later version can travel beside this one."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SUBJECT_ROOT = "citybase.federation"
VERSION: Literal[1] = 1


def subject_prefix(version: int = VERSION, root: str = SUBJECT_ROOT) -> str:
    return f"{root}.v{version}"


class Message(BaseModel):
    """What every message carries: its id (also JetStream's ``Nats-Msg-Id``), the district of
    the link, which way it goes, who sent it and when it was queued."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    version: Literal[1] = VERSION
    message_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    district_code: str = Field(min_length=1, max_length=20, pattern=r"^[0-9A-Za-z]+$")
    direction: Literal["up", "down"]
    sent_by: str = Field(description="The sender's region code")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def subject(self) -> str:
        return f"{subject_prefix(self.version)}.{self.district_code}.{self.direction}.{self.kind}"


class CaseContent(BaseModel):
    """What the receiving brain needs to take a case in. The reporter's contact travels masked,
    as the console shows it: the full contact stays with the deployment that took it in."""

    source: str
    channel: str
    reporter_name: str
    reporter_phone: str
    title: str
    text: str
    address: str
    region_code: str
    lon: float | None
    lat: float | None
    category_code: str
    urgency: str
    state: str = Field(description="The case's state with its sender when the message was made")
    accepted_at: datetime


class CaseMessage(Message):
    """A message about one case: the sender's number, the receiver's when known, and the
    message's place among the sender's messages about it (``seq``, from 1)."""

    number: str
    peer_number: str = ""
    seq: int = Field(ge=1)


class CaseEscalated(CaseMessage):
    """上报: a district's centre hands a case to the city's brain."""

    kind: Literal["case.escalated"] = "case.escalated"
    case: CaseContent
    reason: str


class CaseAssigned(CaseMessage):
    """下派: the city dispatches one of its cases to a unit of a district that runs its own brain."""

    kind: Literal["case.assigned"] = "case.assigned"
    case: CaseContent
    lead_unit: str
    support_units: list[str]
    note: str


class CaseChanged(CaseMessage):
    """A step taken on a case both sides know, for the other side to take too."""

    kind: Literal["case.changed"] = "case.changed"
    action: str
    from_state: str
    to_state: str
    actor: str
    note: str
    details: dict[str, Any]
    reply: str = ""


class CaseTaken(CaseMessage):
    """What the receiver did with a message about a case: the step it took (or why not) and the
    state its case is in now, so that each side knows where the other's case stands."""

    kind: Literal["case.taken"] = "case.taken"
    answers: int = Field(ge=1, description="The seq of the message answered")
    action: str
    state: str
    outcome: str


class FiguresRolledUp(Message):
    """The district's figures over the last days, for the city's dashboard."""

    kind: Literal["figures.rolled_up"] = "figures.rolled_up"
    since: datetime
    figures: dict[str, Any]
    open_cases: int
    overdue: int


class TaxonomyPushed(Message):
    """The city's event taxonomy, every category with its parent."""

    kind: Literal["taxonomy.pushed"] = "taxonomy.pushed"
    categories: list[dict[str, Any]]


class CatalogPushed(Message):
    """The city's dispatch catalog (派单目录), every line."""

    kind: Literal["catalog.pushed"] = "catalog.pushed"
    rules: list[dict[str, Any]]


class CalendarPushed(Message):
    """The city's working calendar for the years the package does not know (节假日安排)."""

    kind: Literal["calendar.pushed"] = "calendar.pushed"
    holidays: list[date]
    workdays: list[date]


AnyMessage = Annotated[
    CaseEscalated
    | CaseAssigned
    | CaseChanged
    | CaseTaken
    | FiguresRolledUp
    | TaxonomyPushed
    | CatalogPushed
    | CalendarPushed,
    Field(discriminator="kind"),
]
MESSAGES: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)


class PeerStatus(BaseModel):
    """A link as ``citybase federation status`` and the console show it."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    role: str
    district_code: str
    connected: bool
    checked_at: datetime | None
    last_error: str
    waiting_out: int = Field(description="Messages of this side not yet in the stream")
    oldest_waiting_at: datetime | None
    waiting_in: int = Field(description="Messages in the stream not yet taken by this side")
    last_sent_at: datetime | None
    last_sent_subject: str
    last_received_at: datetime | None
    last_received_subject: str
    lag_in_seconds: float | None = Field(
        description="From the last message received being queued by its sender to its arrival"
    )
    figures: dict[str, Any]
    figures_at: datetime | None
    links: int
    disagreeing: int = Field(
        default=0, description="Cases linked with this peer whose two sides disagree"
    )


class DisagreementRead(BaseModel):
    """A case whose two sides have moved apart: a step one side took could not be taken on the
    other, and their states still differ. A person settles it by a step on either side."""

    peer_code: str
    case_number: str = Field(description="This side's number")
    peer_number: str
    state: str = Field(description="The case's state on this side")
    peer_state: str = Field(description="The state the other side last said its case is in")
    peer_action: str = Field(description="The other side's last step")
    peer_changed_at: datetime | None
    why: str = Field(description="What was not taken, and why, as the message's outcome says")
    noticed_at: datetime | None = Field(description="When that message was received")


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    peer_code: str
    case_number: str
    peer_number: str
    sent_seq: int
    received_seq: int
    peer_state: str
    peer_action: str
    peer_changed_at: datetime | None


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    message_id: str
    direction: str
    peer_code: str
    subject: str
    kind: str
    case_number: str
    seq: int
    created_at: datetime
    sent_at: datetime | None
    received_at: datetime | None
    outcome: str
