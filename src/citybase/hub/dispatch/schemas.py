from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ModelInfo(BaseModel):
    """What a trained model is: where it came from and how it was made."""

    name: str
    labels: list[str]
    examples: int
    trained_at: datetime
    seconds: float = Field(description="Training time")
    source: str = Field(description="The file it learned from")
    temperature: float = Field(description="Scales decision scores into confidences")
    method: str
    offsets: dict[str, float] = Field(
        default_factory=dict, description="Added to each label's decision score (macro-F1)"
    )
    ngrams: tuple[int, int] = Field((1, 3), description="Character n-gram range")
    weights: str | None = Field("balanced", description="The SVM's class weighting")
    auto_target: float | None = Field(
        None, description="The accuracy the cases dispatched without a person must reach, when "
        "the model was trained for one",
    )  # fmt: skip
    auto_threshold: float | None = Field(
        None, description="The lowest confidence at which, out of fold, the cases at or above "
        "it reached auto_target; none when no confidence did (nothing dispatched unattended)",
    )  # fmt: skip
    auto_share: float | None = Field(
        None, description="The share of the out-of-fold cases at or above auto_threshold"
    )


class Prediction(BaseModel):
    label: str
    confidence: float = Field(ge=0, le=1)
    top: list[tuple[str, float]] = Field(description="The three likeliest, for the operator")


class ClassReport(BaseModel):
    label: str
    precision: float
    recall: float
    f1: float
    support: int


class Coverage(BaseModel):
    """What auto-dispatching above a confidence threshold would do."""

    threshold: float
    share: float = Field(description="Share of messages dispatched automatically")
    accuracy: float = Field(description="Accuracy on those")


class Evaluation(BaseModel):
    model: str
    examples: int
    accuracy: float
    macro_f1: float
    classes: list[ClassReport]
    coverage: list[Coverage]
    per_second: float = Field(description="Messages classified per second")


class Urgency(StrEnum):
    urgent = "urgent"  # 紧急
    pressing = "pressing"  # 较急
    normal = "normal"  # 一般


class StageDeadlines(BaseModel):
    """How long a unit has, counted on the working clock: to sign for a case, and to reply."""

    model_config = ConfigDict(extra="forbid")

    sign_hours: float = Field(gt=0, le=240, description="签收时限, working hours")
    handle_days: float = Field(gt=0, le=90, description="办理时限, working days")


DEFAULT_DEADLINES = {
    Urgency.urgent: StageDeadlines(sign_hours=2, handle_days=1),
    Urgency.pressing: StageDeadlines(sign_hours=4, handle_days=3),
    Urgency.normal: StageDeadlines(sign_hours=24, handle_days=10),
}


class RuleIn(BaseModel):
    """A line of the dispatch catalog as the centre writes it."""

    model_config = ConfigDict(extra="forbid")

    category_code: str = Field("", pattern=r"^(\d{2}(\d{2}){0,2})?$",
                               description="Category code or prefix; empty: any category")  # fmt: skip
    region_code: str = Field(min_length=1, max_length=20, description="This region and below")
    lead_unit: str = Field(min_length=1, max_length=40, description="主办 unit's code")
    support_units: list[str] = Field(default_factory=list, description="协办 units' codes")
    deadlines: dict[Urgency, StageDeadlines] = Field(
        default_factory=dict, description="By urgency; those left out take the defaults"
    )
    note: str = Field("", max_length=200)


class RuleRead(RuleIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int
    updated_at: datetime


class Route(BaseModel):
    """Where a case goes and how long each stage may take."""

    rule_id: int | None
    lead_unit: str
    support_units: list[str]
    sign_hours: float
    handle_days: float


class Suggestion(BaseModel):
    label: str
    confidence: float
    top: list[tuple[str, float]]
    model: str
    auto_target: float | None = None
    auto_threshold: float | None = None

    def sure(self, fallback: float) -> bool:
        """Whether a case may be dispatched on this suggestion without a person: at or above
        the threshold chosen for the model's target accuracy, or, for a model trained
        without a target, at or above ``fallback``."""
        if self.auto_target is None:
            return self.confidence >= fallback
        return self.auto_threshold is not None and self.confidence >= self.auto_threshold


class CatalogProblem(BaseModel):
    row: int | None
    field: str
    message: str


class CatalogReport(BaseModel):
    ok: bool
    rules: int = 0
    problems: list[CatalogProblem] = Field(default_factory=list)


class CorrectionKind(StrEnum):
    return_ = "return"  # 退单: the unit said it is not theirs
    reassign = "reassign"  # 改派: the centre sent it elsewhere
    category = "category"  # the category changed at the desk or by a supervisor
    merge = "merge"  # 并单: the same matter as another case


CORRECTION_NAMES = {CorrectionKind.return_: "退单", CorrectionKind.reassign: "改派",
                    CorrectionKind.category: "改类", CorrectionKind.merge: "并单"}  # fmt: skip


class Correction(BaseModel):
    """A correction kept as a labelled example: the text, the label before and after (a category
    code, or a unit's code for returns and reassignments), who corrected it, when and why; undone
    when a later step put back what it changed (then it is not learned from)."""

    number: str
    kind: CorrectionKind
    field: str = Field(description="category or unit: what the labels are")
    text: str
    before: str
    after: str
    by: str
    unit: str
    at: datetime
    why: str
    undone: bool = False


class VersionStatus(StrEnum):
    champion = "champion"
    challenger = "challenger"
    rejected = "rejected"
    retired = "retired"


STATUS_NAMES = {VersionStatus.champion: "在用", VersionStatus.challenger: "待评估",
                VersionStatus.rejected: "未采用", VersionStatus.retired: "已退役"}  # fmt: skip


class VersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    version: int
    status: VersionStatus
    trained_at: datetime
    trained_by: str
    window_start: datetime | None
    window_end: datetime | None
    holdout_start: datetime | None
    holdout_end: datetime | None
    examples: int
    corrections: int
    holdout: int
    figures: dict[str, Any]
    champion_figures: dict[str, Any]
    confusion: dict[str, Any]
    params: dict[str, Any]
    decision: str
    promoted_at: datetime | None = None


class Reign(BaseModel):
    """A version's time as the champion, and how the cases taken in meanwhile were routed."""

    version: int
    since: datetime
    until: datetime | None = Field(description="None: it is the champion now")
    cases: int
    dispatched: int
    dispatch_accuracy: float | None = Field(description="Dispatched cases never reassigned or "
                                            "returned (派单准确率)")  # fmt: skip
    return_rate: float | None


class MarginsIn(BaseModel):
    """The margins a challenger must beat its champion by to replace it (fractions: 0.01 is one
    point of macro-F1, or one percent of the cases)."""

    model_config = ConfigDict(extra="forbid")

    margin_f1: float = Field(ge=0, le=1, allow_inf_nan=False,
                             description="How much higher the challenger's macro-F1 must be")  # fmt: skip
    margin_routed: float = Field(
        ge=0, le=1, allow_inf_nan=False,
        description="How much higher its share of cases routed without a later correction "
        "must be",
    )  # fmt: skip
    note: str = Field("", max_length=500, description="Why (kept on the ledger)")


class MarginsRead(BaseModel):
    model: str
    margin_f1: float
    margin_routed: float
    stored: bool = Field(description="False: none set for this model, the settings' apply")
    updated_at: datetime | None = None
    updated_by: str = ""
    note: str = ""
