from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citybase.core.bus.schemas import Event
from citybase.core.values import DateTime, NonNegativeInt64
from citybase.hub.dispatch.schemas import Urgency


class CaseState(StrEnum):
    accepted = "accepted"  # 受理
    dispatched = "dispatched"  # 派单
    signed = "signed"  # 签收
    handling = "handling"  # 办理
    replied = "replied"  # 答复
    followed_up = "followed_up"  # 回访
    closed = "closed"  # 办结
    returned = "returned"  # 退单
    merged = "merged"  # 并单


STATE_NAMES = {
    CaseState.accepted: "受理", CaseState.dispatched: "派单", CaseState.signed: "签收",
    CaseState.handling: "办理", CaseState.replied: "答复", CaseState.followed_up: "回访",
    CaseState.closed: "办结", CaseState.returned: "退单", CaseState.merged: "并单",
}  # fmt: skip
OPEN_STATES = frozenset(CaseState) - {CaseState.closed, CaseState.merged}


class Source(StrEnum):
    hotline = "hotline"  # 12345 热线
    portal = "portal"  # 网站
    app = "app"  # 移动端 (e福州 and the like)
    open311 = "open311"  # another system through Open311
    grid = "grid"  # 网格员巡查
    sensor = "sensor"  # 物联感知告警
    proactive = "proactive"  # 未诉先办
    # 办件: a unit's part of another domain's service handed over as work (一件事的事项), not a
    # request to the 12345 centre: supervised like any case, kept out of the centre's figures
    work = "work"


class Channel(StrEnum):
    phone = "phone"
    web = "web"
    app = "app"
    wechat = "wechat"
    sms = "sms"
    api = "api"
    inspection = "inspection"
    sensor = "sensor"


class Satisfaction(StrEnum):
    satisfied = "satisfied"  # 满意
    basic = "basic"  # 基本满意
    unsatisfied = "unsatisfied"  # 不满意


SOURCE_NAMES = {
    Source.hotline: "12345热线", Source.portal: "网站", Source.app: "移动端",
    Source.open311: "Open311", Source.grid: "网格巡查", Source.sensor: "物联感知",
    Source.proactive: "未诉先办", Source.work: "政务服务办件",
}  # fmt: skip
# the sources a case may be taken in with (work is handed over by the service it belongs to)
INTAKE_SOURCES = tuple(s for s in Source if s is not Source.work)
CHANNEL_NAMES = {
    Channel.phone: "电话", Channel.web: "网页", Channel.app: "应用", Channel.wechat: "微信",
    Channel.sms: "短信", Channel.api: "接口", Channel.inspection: "巡查", Channel.sensor: "传感器",
}  # fmt: skip
SATISFACTION_NAMES = {Satisfaction.satisfied: "满意", Satisfaction.basic: "基本满意",
                      Satisfaction.unsatisfied: "不满意"}  # fmt: skip


class Action(StrEnum):
    dispatch = "dispatch"  # 派单
    reassign = "reassign"  # 改派
    return_ = "return"  # 退单
    sign = "sign"  # 签收
    note = "note"  # 办理 (a handling note)
    extend = "extend"  # 延期申请
    approve_extension = "approve_extension"  # 延期审批: granted
    deny_extension = "deny_extension"  # 延期审批: refused
    reply = "reply"  # 答复
    follow_up = "follow_up"  # 回访
    reopen = "reopen"  # 重办
    close = "close"  # 办结
    merge = "merge"  # 并单
    urge = "urge"  # 催办
    escalate = "escalate"  # 上报: to the brain above


MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def normalise_phone(value: str) -> str:
    """A Chinese mobile (11 digits, 1[3-9]…) or landline (0 + area code + 7–8 digits) number,
    spaces and dashes of a mobile number taken out, +86 allowed; anything else is refused."""
    raw = value.strip().replace(" ", "")
    if raw.startswith("+86"):
        raw = raw[3:]
    mobile = raw.replace("-", "")
    if MOBILE.match(mobile):
        return mobile
    if LANDLINE.match(raw):
        return raw
    raise ValueError("not a phone number: a mobile is 11 digits starting 13–19, a landline "
                     "0 + area code + 7–8 digits")  # fmt: skip


class Attachment(BaseModel):
    """A file that goes with a case: one kept by the platform (``file_id``, from an upload; its
    name, kind and size are then the platform's), or one kept elsewhere (``url``)."""

    name: str = Field("", max_length=200)
    url: str = Field("", max_length=500, description="Where a file kept elsewhere is")
    media_type: str = Field("", max_length=100)
    file_id: str = Field("", max_length=32, description="A file uploaded to the platform")
    size: int = Field(0, ge=0, description="Bytes (files kept by the platform)")

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("a file kept elsewhere is named by an http(s) address")
        return value

    @model_validator(mode="after")
    def _named(self) -> Attachment:
        if not (self.name or self.file_id):
            raise ValueError("name the attachment, or give the file_id of an upload")
        return self


MAX_ATTACHMENTS = 20


class CaseCreate(BaseModel):
    """A matter as intake takes it."""

    model_config = ConfigDict(extra="forbid")

    source: Source = Source.hotline
    channel: Channel = Channel.phone
    reporter_name: str = Field("", max_length=100)
    reporter_phone: str = Field("", max_length=20, description="Mobile or landline; may be empty")
    title: str = Field("", max_length=200)
    text: str = Field(min_length=4, max_length=4000, description="What the citizen says")
    address: str = Field("", max_length=300)
    region_code: str = Field("", max_length=20, description="Region (down to a grid) if known")
    lon: float | None = Field(None, ge=73, le=136, description="WGS84 longitude")
    lat: float | None = Field(None, ge=3, le=54, description="WGS84 latitude")
    category_code: str = Field("", max_length=12, description="Empty: the classifier suggests")
    urgency: Urgency = Urgency.normal
    attachments: list[Attachment] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)
    related: list[str] = Field(default_factory=list, description="Numbers of related cases")
    device_id: str = Field("", max_length=100, description="The device whose alarm this is")

    @field_validator("reporter_phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value) if value.strip() else ""

    @model_validator(mode="after")
    def _where(self) -> CaseCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class ActionIn(BaseModel):
    """What goes with a step; which fields an action needs is said by the action."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=4000, description="Reason, handling note or remark")
    lead_unit: str = Field("", max_length=40, description="dispatch / reassign / reopen")
    support_units: list[str] | None = Field(None, description="dispatch / reassign")
    category_code: str = Field("", max_length=12, description="dispatch / reassign: correction")
    urgency: Urgency | None = None
    days: int | None = Field(None, ge=1, le=60, description="extend: working days asked")
    reply: str = Field("", max_length=4000, description="reply / close: the answer given")
    satisfaction: Satisfaction | None = Field(None, description="follow_up: the citizen's verdict")
    target: str = Field("", max_length=32, description="merge: the case this one joins")


class CaseRead(BaseModel):
    """A case as the console and the API show it; the reporter's contact is masked."""

    model_config = ConfigDict(from_attributes=True)

    number: str
    source: Source
    channel: Channel
    reporter_name: str
    reporter_phone: str
    title: str
    text: str
    address: str
    region_code: str
    district_code: str
    street_code: str
    community_code: str
    grid_code: str
    lon: float | None
    lat: float | None
    category_code: str
    urgency: Urgency
    state: CaseState
    lead_unit: str
    brain_code: str = Field(description="The region whose brain runs the case's loop")
    device_id: str
    support_units: list[str]
    attachments: list[Attachment]
    related: list[str]
    suggestion: dict[str, Any]
    merged_into: str
    accepted_at: datetime
    accepted_by: str
    dispatched_at: datetime | None
    sign_due: datetime | None
    signed_at: datetime | None
    handle_due: datetime | None
    replied_at: datetime | None
    reply: str
    followed_up_at: datetime | None
    satisfaction: Satisfaction | None
    closed_at: datetime | None
    closed_how: str
    auto_dispatched: bool
    return_count: int
    reassign_count: int
    reopen_count: int
    extension_count: int
    extension_asked: dict[str, Any] | None
    warning: str = Field(description="'', 'yellow' (deadline near) or 'red' (overdue)")
    updated_at: datetime

    @field_validator("satisfaction", mode="before")
    @classmethod
    def _empty(cls, value: object) -> object:
        return value or None


class StepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str
    from_state: str
    to_state: str
    actor: str
    unit: str
    note: str
    details: dict[str, Any]
    at: datetime


class StepHistory(BaseModel):
    """A case's text and labels with the steps that moved it, oldest first: what the dispatch
    classifier learns its corrections from."""

    number: str
    text: str
    category_code: str
    lead_unit: str
    suggested: str = Field("", description="The classifier's category at intake, if any")
    merged_into_category: str = ""
    steps: list[StepRead]


class Duplicate(BaseModel):
    number: str
    similarity: float
    state: CaseState
    title: str


class IntakeResult(BaseModel):
    case: CaseRead
    duplicates: list[Duplicate] = Field(description="Open cases on the same matter nearby")
    dispatched: bool = Field(description="Whether the case went out without an operator")


class CaseDetail(CaseRead):
    steps: list[StepRead]
    allowed: list[Action] = Field(description="What the caller may do next")
    may_attach: bool = Field(False, description="Whether the caller may add files to it")


class Contact(BaseModel):
    number: str
    reporter_name: str
    reporter_phone: str


class CaseFilter(BaseModel):
    state: list[CaseState] = Field(default_factory=list)
    lead_unit: str = ""
    involving_unit: str = Field("", description="Lead or support unit")
    district_code: str = ""
    category_code: str = Field("", description="A code prefix: 01 takes all of 大类 01")
    warning: str = ""
    within: str = Field("", description="Cases whose place or brain lies in this region")
    phone: str = ""
    numbers: list[str] = Field(default_factory=list, description="These cases only")
    category_codes: list[str] = Field(default_factory=list, description="Any of these exactly")
    q: str = Field("", description="Words in the text, title or address")
    accepted_from: DateTime | None = None
    accepted_to: DateTime | None = None
    public: bool = Field(False, description="Only what the public may see: no one-thing matters")
    limit: int = Field(50, ge=1, le=500)
    offset: NonNegativeInt64 = 0


class CaseEvent(Event):
    """A case changed state; published for every step."""

    topic: ClassVar[str] = "hub.case.changed"

    number: str
    action: str
    from_state: str
    to_state: str
    lead_unit: str
    district_code: str
    category_code: str
    actor: str = Field("", description="Who took the step (the ledger's actor name)")
    note: str = Field("", description="The step's reason or handling note")
    details: dict[str, Any] = Field(default_factory=dict, description="What went with the step")
    reply: str = Field("", description="reply / close: the answer given to the citizen")


class CaseWarning(Event):
    """A case's stage deadline is near (yellow) or past (red); red goes up to the lead unit's
    counterpart above and the supervisors (escalation)."""

    topic: ClassVar[str] = "hub.case.warning"

    number: str
    level: str
    stage: str
    due: datetime
    lead_unit: str
    escalate_to: list[str]
    district_code: str
    category_code: str


class Figures(BaseModel):
    """A centre's figures for a group of cases (a unit, a district, a 大类, or all)."""

    key: str = Field(description="Unit code, district code, 大类 code; '' for all")
    cases: int
    overdue: int = Field(description="Cases now past a stage deadline (red)")
    on_time_signing: float | None = Field(description="按时签收率")
    on_time_closing: float | None = Field(description="按时办结率: replied by the deadline")
    return_rate: float | None = Field(description="退单率: dispatched cases returned at least once")
    reopen_rate: float | None = Field(description="重办率: of cases that reached a verdict")
    satisfaction_rate: float | None = Field(
        description="满意率: satisfied or basic, of those rated"
    )
    first_time_rate: float | None = Field(description="一次办结率: closed with no return, "
                                          "reassignment or reopening")  # fmt: skip
    dispatch_accuracy: float | None = Field(description="Dispatched cases never reassigned or "
                                            "returned")  # fmt: skip
    counts: dict[str, int]


class CaseOverview(BaseModel):
    """What the cases list draws over the cases it lists: the heat by district, the trend by
    day and 大类, and the newest cases with a place (number, lon, lat, warning)."""

    by_district: dict[str, int]
    per_day: list[tuple[str, str, int]]
    points: list[tuple[str, float, float, str]]
