from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citybase.core.bus.schemas import Event
from citybase.core.values import DateTime


class Grade(StrEnum):
    """The five national grades (国办发〔2019〕51号); the last two are 差评."""

    very_satisfied = "very_satisfied"  # 非常满意
    satisfied = "satisfied"  # 满意
    basic = "basic"  # 基本满意
    unsatisfied = "unsatisfied"  # 不满意
    very_unsatisfied = "very_unsatisfied"  # 非常不满意


GRADE_NAMES = {
    Grade.very_satisfied: "非常满意", Grade.satisfied: "满意", Grade.basic: "基本满意",
    Grade.unsatisfied: "不满意", Grade.very_unsatisfied: "非常不满意",
}  # fmt: skip
BAD = frozenset({Grade.unsatisfied, Grade.very_unsatisfied})
GOOD = frozenset({Grade.very_satisfied, Grade.satisfied, Grade.basic})

# What a 差评 is about, as the provincial 好差评 systems ask it (the national opinion names the
# dimensions — guidance, materials, trips, time, process, attitude, fees, result — not one
# closed list); "other" asks the applicant to say it in words.
REASONS = {
    "guide": "办事指南不清楚、不准确",
    "materials": "要求提交的材料多、重复提交",
    "trips": "跑动次数多",
    "slow": "办理时间长、效率低",
    "process": "流程繁琐、环节多",
    "attitude": "工作人员服务态度差",
    "competence": "工作人员业务不熟悉",
    "online": "网上办理不便、系统不好用",
    "fees": "收费不合理",
    "result": "诉求未解决、办理结果不满意",
    "other": "其他（请在意见中说明）",
}


class SubjectKind(StrEnum):
    case = "case"  # 12345 工单
    matter = "matter"  # 办件（政务服务事项）
    application = "application"  # “一件事”申请


KIND_NAMES = {SubjectKind.case: "12345 工单", SubjectKind.matter: "政务服务办件",
              SubjectKind.application: "“一件事”申请"}  # fmt: skip


class Channel(StrEnum):
    window = "window"  # 窗口
    portal = "portal"  # 网上办事大厅 / 门户
    app = "app"  # 移动端
    hotline = "hotline"  # 12345 热线
    wechat = "wechat"  # 微信、小程序
    sms = "sms"  # 短信
    kiosk = "kiosk"  # 自助终端
    other = "other"


CHANNEL_NAMES = {
    Channel.window: "窗口", Channel.portal: "网上办事", Channel.app: "移动端",
    Channel.hotline: "12345 热线", Channel.wechat: "微信", Channel.sms: "短信",
    Channel.kiosk: "自助终端", Channel.other: "其他",
}  # fmt: skip


class RectifyState(StrEnum):
    none = ""  # a good rating: nothing to rectify
    pending = "pending"  # 待整改
    answered = "answered"  # 已整改反馈, waiting for the revisit
    accepted = "accepted"  # 回访认可
    rejected = "rejected"  # 回访不认可


RECTIFY_NAMES = {RectifyState.none: "", RectifyState.pending: "待整改",
                 RectifyState.answered: "已反馈待回访", RectifyState.accepted: "回访认可",
                 RectifyState.rejected: "回访不认可"}  # fmt: skip


class SubjectOpen(BaseModel):
    """What another domain hands over to make a subject ratable."""

    kind: SubjectKind
    subject_id: str = Field(min_length=1, max_length=80)
    unit_code: str = Field(min_length=1, max_length=40)
    channel: Channel
    title: str = Field("", max_length=200)
    applicant_key: str = Field("", max_length=80,
                               description="applicant_key_for_phone(…); '' for a 12345 case, "
                               "whose applicant the hub checks by the case's phone")  # fmt: skip
    handled: bool = Field(True, description="False: ratable only once marked handled")


class SubjectRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: SubjectKind
    subject_id: str
    unit_code: str
    channel: Channel
    title: str
    handled_at: datetime | None


class RatingBase(BaseModel):
    grade: Grade = Field(description="very_satisfied, satisfied, basic, unsatisfied, "
                         "very_unsatisfied (非常满意 … 非常不满意)")  # fmt: skip
    reasons: list[str] = Field(default_factory=list, max_length=len(REASONS),
                               description="Codes of REASONS; at least one for 差评")  # fmt: skip
    comment: str = Field("", max_length=500)

    @field_validator("reasons")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in REASONS]
        if unknown:
            raise ValueError(f"unknown reason {unknown[0]!r}: choose from the list")
        return list(dict.fromkeys(value))


class RatingCreate(RatingBase):
    """A citizen's rating, with what proves them the applicant: the subject's phone."""

    kind: SubjectKind
    subject_id: str = Field(min_length=1, max_length=80)
    phone: str = Field(min_length=1, max_length=40)


class RatingRead(RatingBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: SubjectKind
    subject_id: str
    unit_code: str
    channel: Channel
    title: str
    rated_at: datetime
    rectify_state: RectifyState
    rectify_due: datetime | None
    answer: str
    answered_at: datetime | None
    answered_by: str
    warned_at: datetime | None
    revisit_note: str
    revisited_at: datetime | None
    revisited_by: str

    @property
    def bad(self) -> bool:
        return self.grade in BAD


class RatingFilter(BaseModel):
    unit: str = ""
    kind: SubjectKind | None = None
    channel: Channel | None = None
    grade: Grade | None = None
    rectify_state: RectifyState | None = None
    since: DateTime | None = None
    until: DateTime | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10_000_000)


class AnswerIn(BaseModel):
    answer: str = Field(min_length=2, max_length=2000, description="What the unit did (整改反馈)")


class RevisitIn(BaseModel):
    accepted: bool = Field(description="Whether the applicant accepts the rectification")
    note: str = Field("", max_length=1000)


class Figures(BaseModel):
    """A group's ratings (a unit, a kind, a channel, or all) over a period."""

    key: str = Field(description="Unit code, kind or channel; '' for all")
    count: int
    grades: dict[str, int]
    good_rate: float | None = Field(description="好评率: 非常满意, 满意 and 基本满意 of all")
    bad: int = Field(description="差评: 不满意 and 非常不满意")
    rectified: int = Field(description="差评 answered by the unit")
    rectified_on_time: int = Field(description="差评 answered by the deadline")
    overdue: int = Field(description="差评 not answered and past the deadline")
    accepted: int = Field(description="差评 whose rectification the applicant accepted")
    rectify_rate: float | None = Field(description="差评整改率: answered on time, of 差评 due")


class RatingGiven(Event):
    """An applicant rated a subject; a bad rating goes back to the unit to rectify."""

    topic: ClassVar[str] = "services.evaluation.rated"

    rating_id: int
    kind: str
    subject_id: str
    unit_code: str
    grade: str
    rectify_due: datetime | None


class RectificationOverdue(Event):
    """A bad rating's rectification passed its deadline without an answer."""

    topic: ClassVar[str] = "services.evaluation.rectification.overdue"

    rating_id: int
    unit_code: str
    due: datetime


class RatingState(BaseModel):
    """Where a subject stands for its applicant's rating: ``waiting`` (not handled yet, or not
    opened), ``open`` (it may be rated now) or ``rated`` (with the grade given)."""

    kind: SubjectKind
    subject_id: str
    state: str
    grade: str = ""
