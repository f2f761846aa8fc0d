"""The one-thing service's shapes: an item's specification (as the bureau writes it, in YAML or
JSON), the one form, applications and their matters, offers made unasked (免申即办)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from citybase.core.bus.schemas import Event

CODE = r"^[a-z][a-z0-9_.-]{1,39}$"


class ApplicantKind(StrEnum):
    person = "person"  # 自然人
    enterprise = "enterprise"  # 法人


class MaterialSpec(BaseModel):
    """A material (申请材料) a matter asks for; ``certificate``: the type of e-certificate
    (电子证照) that proves it, checked instead of asking for it (免证明)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    certificate: str = Field("", max_length=40, description="Certificate type code proving it")
    holder: str = Field(
        "", max_length=50,
        description="The form's field naming the certificate's holder when it is not the "
        "applicant (the deceased, a spouse): a field the city's registers fill in from the "
        "applicant's own record, never one the applicant types",
    )  # fmt: skip
    required: bool = True


class FieldSpec(BaseModel):
    """A field a matter's form asks for, named by its data element (数据元): two matters
    asking for the same element share one field of the one form."""

    model_config = ConfigDict(extra="forbid")

    element: str = Field(min_length=1, max_length=60)
    label: str = Field("", max_length=100, description="The element's name when empty")
    required: bool = True


class MatterSpec(BaseModel):
    """One underlying matter (事项) of a unit: its materials, conditions (受理条件), legal time
    limit in working days (法定办结时限), fields, and the matters whose result it needs."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    unit: str = Field(min_length=1, max_length=40, description="The handling unit's code")
    days: int = Field(ge=1, le=365, description="Legal time limit, working days")
    conditions: list[str] = Field(default_factory=list, max_length=20)
    materials: list[MaterialSpec] = Field(default_factory=list, max_length=30)
    fields: list[FieldSpec] = Field(default_factory=list, max_length=60)
    needs: list[str] = Field(default_factory=list, description="Matters whose result it needs")


class SourceSpec(BaseModel):
    """Where a data element is pre-filled from: a base-library file's field (``library``), or
    a shared catalog resource's data item found by the applicant's number (``resource``,
    ``item``, ``key``: the item holding the citizen ID or credit code)."""

    model_config = ConfigDict(extra="forbid")

    library: str = Field("", max_length=40, description="A field of the applicant's file")
    resource: str = Field("", max_length=60)
    item: str = Field("", max_length=100)
    key: str = Field("", max_length=100)

    @model_validator(mode="after")
    def _one(self) -> SourceSpec:
        if bool(self.library) == bool(self.resource):
            raise ValueError("name either a library field or a resource")
        if self.resource and not (self.item and self.key):
            raise ValueError("a resource source names its item and its key item")
        return self


class ProactiveRule(BaseModel):
    """When the platform offers the item unasked (免申即办): the applicant's age reached, read
    from a date element of its file (出生日期), by sex where ages differ."""

    model_config = ConfigDict(extra="forbid")

    element: str = Field("出生日期", max_length=60)
    min_age: int = Field(ge=0, le=150)
    min_age_by_sex: dict[str, int] = Field(default_factory=dict, description="性别 → age")


class ItemSpec(BaseModel):
    """One item of the one-thing catalog, as the bureau writes it."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=CODE)
    name: str = Field(min_length=1, max_length=100)
    lead_unit: str = Field(min_length=1, max_length=40)
    applicant: ApplicantKind = ApplicantKind.person
    description: str = Field("", max_length=2000)
    legal_basis: str = Field("", max_length=300)
    matters: list[MatterSpec] = Field(min_length=1, max_length=30)
    sources: dict[str, SourceSpec] = Field(default_factory=dict, description="element → source")
    proactive: ProactiveRule | None = None


class ItemRead(BaseModel):
    code: str
    name: str
    lead_unit_code: str
    applicant_kind: ApplicantKind
    active: bool
    spec: ItemSpec
    order: list[list[str]] = Field(description="Matters by stage: each needs only earlier ones")
    prefill_share: float | None = Field(description="Share of form fields pre-filled so far")
    applications: int
    updated_at: datetime


class LoadReport(BaseModel):
    created: list[str] = Field(default_factory=list)
    updated: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


class FieldSource(StrEnum):
    library = "library"  # 一人一档 / 一企一档
    resource = "resource"  # a shared catalog resource
    applicant = "applicant"  # filled by the applicant


class FormField(BaseModel):
    element: str
    label: str
    required: bool
    matters: list[str]
    value: Any = None
    source: FieldSource = FieldSource.applicant
    source_ref: str = Field("", description="The resource (and unit) the value came from")
    refused: str = Field("", description="Why the sharing rules refused to pre-fill it")


class FormMaterial(BaseModel):
    code: str
    name: str
    matters: list[str]
    required: bool
    certificate: str = ""
    holder: str = Field(
        "", description="The field naming whose certificate proves it, if not the applicant's"
    )
    proven: str = Field("", description="The certificate that proves it (免证明), when found")
    certificate_id: str = Field("", description="That certificate's identifier (GB/T 36904)")
    seam: str = Field("", description="Why no certificate could stand in for it")


class FormRead(BaseModel):
    """The one form (一表申请) of an item for one applicant: every field once, pre-filled where
    the city already knows it (with its source), the materials still to give."""

    item_code: str
    item_name: str
    fields: list[FormField]
    materials: list[FormMaterial]
    prefilled: int
    total: int
    access_ids: list[int]


class ApplicationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_code: str = Field(min_length=1, max_length=40)
    consent: bool = Field(description="The applicant consents to the pre-fill's reads")
    values: dict[str, str] = Field(default_factory=dict, description="element → value")
    materials: dict[str, str] = Field(default_factory=dict, description="code → file id")
    offer: str = Field("", max_length=40, description="The offer (免申即办) this confirms")


class Supplement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=2000)
    materials: dict[str, str] = Field(default_factory=dict, description="code → file id")


class ApplicationState(StrEnum):
    offered = "offered"  # 待确认 (免申即办)
    declined = "declined"  # 已谢绝
    submitted = "submitted"  # 已提交
    in_progress = "in_progress"  # 办理中
    needs_material = "needs_material"  # 待补正
    completed = "completed"  # 已办结


class MatterState(StrEnum):
    waiting = "waiting"  # 等待前置事项
    handling = "handling"  # 办理中
    needs_material = "needs_material"  # 待补正
    done = "done"  # 已办结


class MatterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    matter_code: str
    matter_name: str
    unit_code: str
    state: MatterState
    needs: list[str]
    case_number: str
    time_limit_days: int
    asked: str
    result: str
    done_at: datetime | None


class ApplicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: str
    item_code: str
    state: ApplicationState
    proactive: bool
    fields_total: int
    fields_prefilled: int
    form: dict[str, Any]
    materials: dict[str, Any]
    submitted_at: datetime | None
    completed_at: datetime | None
    note: str
    created_at: datetime
    matters: list[MatterRead] = Field(default_factory=list)


class ApplicantRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    kind: ApplicantKind
    number: str = Field(min_length=15, max_length=18, description="Citizen ID or credit code")


class ApplicationChanged(Event):
    """An application, or one of its matters, changed state."""

    topic: ClassVar[str] = "services.onething.application.changed"

    number: str
    item_code: str
    state: str
    matter_code: str = ""
    matter_state: str = ""
