"""Shapes of authorized operation, data products, scenarios and data assets. Money is in yuan
with two decimals (``Decimal``) on the way in and out, kept in fen (integers) in the tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citybase.core.bus.schemas import Event

MAX_YUAN = Decimal("100000000000")  # a hundred billion: more is a typing error


def to_fen(value: Decimal) -> int:
    return int((value * 100).to_integral_value())


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def _money(value: Decimal) -> Decimal:
    if value < 0 or value > MAX_YUAN:
        raise ValueError(f"an amount in yuan between 0 and {MAX_YUAN}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("at most two decimals (fen)")
    return value


def _codes(values: list[str]) -> list[str]:
    cleaned = []
    for value in values:
        value = value.strip()
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


# --- agreements -----------------------------------------------------------------------------------


class PricePolicy(StrEnum):
    public_interest_free = "public_interest_free"  # 公益使用免费
    priced = "priced"  # 有偿使用


class AgreementStatus(StrEnum):
    granted = "granted"  # 已授予，待审查
    reviewed = "reviewed"  # 已审查，待签署
    rejected = "rejected"  # 审查未通过
    signed = "signed"  # 已签署（在有效期内即生效）
    suspended = "suspended"  # 已暂停
    ended = "ended"  # 已终止


class AgreementBase(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    operator_unit_code: str = Field(
        min_length=2, max_length=40, description="The operator company, registered as a unit"
    )
    resource_codes: list[str] = Field(
        default_factory=list, max_length=500, description="Catalog resources it may operate"
    )
    themes: list[str] = Field(
        default_factory=list, max_length=50,
        description="Theme libraries (主题库): every resource tagged so is covered",
    )  # fmt: skip
    purposes: list[str] = Field(min_length=1, max_length=20)
    scenarios: list[str] = Field(default_factory=list, max_length=50)
    starts_on: date
    ends_on: date
    security_duties: str = Field(min_length=1, max_length=4000)
    price_policy: PricePolicy
    price_note: str = Field("", max_length=2000)

    _clean = field_validator("resource_codes", "themes", "purposes", "scenarios")(_codes)

    @model_validator(mode="after")
    def _coherent(self) -> AgreementBase:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on: the agreement must end after it starts")
        if not self.resource_codes and not self.themes:
            raise ValueError("resource_codes: name the resources or theme libraries it covers")
        if not self.purposes:
            raise ValueError("purposes: name at least one purpose")
        return self


class AgreementCreate(AgreementBase):
    pass


class AgreementAction(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class AgreementReview(AgreementAction):
    approve: bool


class AgreementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    title: str
    operator_unit_code: str
    operator_unit_name: str = ""
    operator_credit_code: str
    resource_codes: list[str]
    themes: list[str]
    purposes: list[str]
    scenarios: list[str]
    starts_on: date
    ends_on: date
    security_duties: str
    price_policy: PricePolicy
    price_note: str
    status: AgreementStatus
    live: bool = Field(False, description="Signed and within its dates today")
    granted_by: str
    reviewed_by: str
    signed_by: str
    signed_at: datetime | None
    ended_at: datetime | None
    last_reason: str
    created_at: datetime


# --- products -------------------------------------------------------------------------------------


class ProductKind(StrEnum):
    dataset = "dataset"  # 数据集
    api = "api"  # 数据接口
    report = "report"  # 模型/报告
    sandbox = "sandbox"  # 沙箱分析


class UpdateCycle(StrEnum):
    realtime = "realtime"
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    once = "once"


class PriceModel(StrEnum):
    free = "free"  # 免费
    per_call = "per_call"  # 按次
    per_row = "per_row"  # 按条
    monthly = "monthly"  # 包月订阅


class ProductStatus(StrEnum):
    submitted = "submitted"  # 待审核
    approved = "approved"  # 审核通过，待上架
    rejected = "rejected"  # 未通过
    listed = "listed"  # 已上架
    delisted = "delisted"  # 已下架


class ProductBase(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    kind: ProductKind
    description: str = Field("", max_length=4000)
    sector: str = Field("", max_length=40, description="The sector it serves (行业)")
    source_codes: list[str] = Field(min_length=1, max_length=50)
    update_cycle: UpdateCycle
    sample: str = Field("", max_length=4000, description="A description of its sample")
    masked: bool = Field(False, description="Personal data in it is delivered masked")
    price_model: PriceModel
    price_yuan: Decimal = Field(Decimal("0"), description="Per call, per row or per month")
    licence: str = Field("", max_length=200)

    _clean = field_validator("source_codes")(_codes)
    _price = field_validator("price_yuan")(_money)

    @model_validator(mode="after")
    def _price_coherent(self) -> ProductBase:
        if self.price_model is PriceModel.free and self.price_yuan != 0:
            raise ValueError("price_yuan: a free product has no price")
        if self.price_model is not PriceModel.free and self.price_yuan == 0:
            raise ValueError("price_yuan: a priced product needs its amount")
        return self


class ProductCreate(ProductBase):
    agreement_number: str = Field(
        "", max_length=30, description="The operation agreement it is made under (an operator's)"
    )


class ProductReview(BaseModel):
    approve: bool
    reason: str = Field(min_length=1, max_length=2000)


class ProductAction(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Check(BaseModel):
    """One compliance check of a product and what it found."""

    rule: str
    passed: bool
    detail: str


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    name: str
    kind: ProductKind
    owner_unit_code: str
    owner_unit_name: str = ""
    agreement_number: str = ""
    description: str
    sector: str
    source_codes: list[str]
    update_cycle: UpdateCycle
    sample: str
    sample_rows: list[dict[str, Any]]
    quality: list[dict[str, Any]]
    grade: str
    personal_data: bool
    masked: bool
    price_model: PriceModel
    price_yuan: Decimal = Decimal("0")
    licence: str
    offer_policy: dict[str, Any] | None
    checks: list[Check]
    status: ProductStatus
    registered_by: str
    reviewed_by: str
    review_reason: str
    listed_at: datetime | None
    delisted_at: datetime | None
    scenario_ids: list[int] = Field(default_factory=list)
    created_at: datetime


class CatalogQuery(BaseModel):
    q: str = Field("", max_length=100)
    kind: ProductKind | None = None
    sector: str = Field("", max_length=40)
    price_model: PriceModel | None = None
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)


class FacetCount(BaseModel):
    value: str
    count: int


class CatalogPage(BaseModel):
    total: int
    products: list[ProductRead]
    facets: dict[str, list[FacetCount]]


class ProductListed(Event):
    topic: ClassVar[str] = "data.products.product.listed"

    number: str
    owner_unit_code: str
    kind: str
    source_codes: list[str]


class ProductDelisted(Event):
    topic: ClassVar[str] = "data.products.product.delisted"

    number: str
    owner_unit_code: str
    reason: str


# --- scenarios ------------------------------------------------------------------------------------


class ScenarioStatus(StrEnum):
    planned = "planned"  # 储备
    building = "building"  # 建设中
    running = "running"  # 已应用
    retired = "retired"  # 已退出


class ScenarioBase(BaseModel):
    name: str = Field(min_length=2, max_length=200)
    sector: str = Field(min_length=1, max_length=40)
    description: str = Field("", max_length=4000)
    owner_unit_code: str = Field(min_length=2, max_length=40)
    status: ScenarioStatus = ScenarioStatus.planned


class ScenarioCreate(ScenarioBase):
    pass


class ScenarioLink(BaseModel):
    product_number: str = Field(min_length=1, max_length=30)


class ScenarioRead(ScenarioBase):
    model_config = ConfigDict(from_attributes=True)

    id: int
    product_numbers: list[str] = Field(default_factory=list)
    created_at: datetime


# --- data assets ----------------------------------------------------------------------------------


class SubjectKind(StrEnum):
    resource = "resource"
    product = "product"


class ValuationMethod(StrEnum):
    cost = "cost"  # 成本法
    income = "income"  # 收益法
    market = "market"  # 市场法


class AssetValues(BaseModel):
    cost_yuan: Decimal
    expected_benefit_yuan: Decimal = Decimal("0")
    method: ValuationMethod
    value_yuan: Decimal

    _money = field_validator("cost_yuan", "expected_benefit_yuan", "value_yuan")(_money)


class AssetCreate(AssetValues):
    subject_kind: SubjectKind
    subject_code: str = Field(min_length=1, max_length=40)


class AssetRevalue(AssetValues):
    reason: str = Field(min_length=1, max_length=2000)


class AssetEntryRead(BaseModel):
    version: int
    cost_yuan: Decimal
    expected_benefit_yuan: Decimal
    method: ValuationMethod
    value_yuan: Decimal
    reason: str
    changed_by: str
    changed_at: datetime


class AssetRead(BaseModel):
    id: int
    number: str
    unit_code: str
    subject_kind: SubjectKind
    subject_code: str
    name: str
    cost_yuan: Decimal
    expected_benefit_yuan: Decimal
    method: ValuationMethod
    value_yuan: Decimal
    version: int
    history: list[AssetEntryRead] = Field(default_factory=list)
    updated_at: datetime


# --- negotiations and contracts -------------------------------------------------------------------


class NegotiationCreate(BaseModel):
    """A customer asks for a listed product: for which of its offered purposes, in which
    scenario; ``consumer_pid`` is the customer's own id for the negotiation (one is made)."""

    purpose: str = Field(min_length=1, max_length=200)
    scenario: str = Field("", max_length=200)
    consumer_pid: str = Field("", max_length=200)


class ContractTerms(BaseModel):
    """What the provider offers or agrees to: the term (the last day the contract runs, the
    city's day), and optionally how many calls and rows in all, and the region of use."""

    ends_on: date
    max_calls: int | None = Field(None, ge=1, le=1_000_000_000_000)
    max_rows: int | None = Field(None, ge=1, le=1_000_000_000_000_000)
    region: str = Field("", max_length=40, pattern=r"^[a-z0-9._/-]*$")
    reason: str = Field(min_length=1, max_length=2000)


class NegotiationAction(BaseModel):
    reason: str = Field("", max_length=2000)


class Termination(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)
    code: str = Field("", max_length=80)


class NegotiationStep(BaseModel):
    state: str
    by: str
    at: datetime
    reason: str = ""


class NegotiationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    provider_pid: str
    consumer_pid: str
    product_id: int
    product_number: str = ""
    product_name: str = ""
    customer_unit_code: str
    customer_unit_name: str = ""
    provider_unit_code: str
    requested_by: str
    purposes: list[str]
    scenario: str
    state: str = Field(description="The Dataspace Protocol state: dspace:REQUESTED…")
    offer: dict[str, Any]
    terms: dict[str, Any]
    agreement: dict[str, Any] | None
    contract_id: int | None
    history: list[NegotiationStep]
    created_at: datetime
    updated_at: datetime


class ContractStatus(StrEnum):
    in_force = "in_force"  # 履行中
    expired = "expired"  # 已到期
    revoked = "revoked"  # 已撤销


class ContractAction(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    product_id: int
    product_number: str = ""
    product_name: str = ""
    product_kind: str = ""
    source_codes: list[str] = Field(default_factory=list)
    customer_unit_code: str
    customer_unit_name: str = ""
    provider_unit_code: str
    purposes: list[str]
    scenario: str
    policy: dict[str, Any] = Field(description="The ODRL 2.2 Agreement (JSON-LD)")
    starts_at: datetime
    ends_at: datetime
    status: ContractStatus
    revoked_at: datetime | None
    revoked_by: str
    revoke_reason: str
    has_key: bool = False
    calls: int
    rows: int
    bytes: int
    created_at: datetime


class ContractConcluded(Event):
    topic: ClassVar[str] = "data.products.contract.concluded"

    number: str
    product_number: str
    customer_unit_code: str
    provider_unit_code: str


class ContractRevoked(Event):
    topic: ClassVar[str] = "data.products.contract.revoked"

    number: str
    customer_unit_code: str
    reason: str


# --- deliveries and their meters ------------------------------------------------------------------


class DeliveryAsk(BaseModel):
    """What a delivery asks: which of the product's source resources (its first by default),
    which fields, which page, and where the rows will be used (a region code)."""

    resource: str = Field("", max_length=40)
    fields: list[str] = Field(default_factory=list, max_length=200)
    limit: int = Field(100, ge=1, le=10_000)
    offset: int = Field(0, ge=0, le=1_000_000_000)
    region: str = Field("", max_length=40, pattern=r"^[a-z0-9._/-]*$")


class DeliveryMode(StrEnum):
    """How a product's data leaves: rows from the API, a signed file, or the released result of
    an analysis run in the privacy sandbox (沙箱交付)."""

    api = "api"
    file = "file"
    sandbox = "sandbox"


# the modes each kind of product is delivered in: a sandbox product's rows never leave, and
# only a dataset or a report is handed over as a file
MODES_BY_KIND: dict[str, frozenset[DeliveryMode]] = {
    ProductKind.api.value: frozenset({DeliveryMode.api}),
    ProductKind.dataset.value: frozenset({DeliveryMode.api, DeliveryMode.file}),
    ProductKind.report.value: frozenset({DeliveryMode.api, DeliveryMode.file}),
    ProductKind.sandbox.value: frozenset({DeliveryMode.sandbox}),
}


class FileFormat(StrEnum):
    csv = "csv"  # UTF-8 with a byte-order mark, so that Excel reads the Chinese
    jsonl = "jsonl"  # JSON Lines


class FileAsk(BaseModel):
    """A file of a product's rows: which source resource (its first by default), the format,
    how many rows at most, and where they will be used."""

    resource: str = Field("", max_length=40)
    format: FileFormat = FileFormat.csv
    limit: int = Field(1000, ge=1, le=100_000)
    region: str = Field("", max_length=40, pattern=r"^[a-z0-9._/-]*$")


class FileSignature(BaseModel):
    """The detached signature of a delivered file (its ``.sig``): SM2 with SM3 by the providing
    unit's key over the file's bytes (after a fixed prefix naming what is signed). The other
    fields say what it is about; only the file's bytes and the signature are relied on."""

    format: str = "citybase-product-file-signature/1"
    algorithm: str = "SM2-with-SM3"
    file: str
    sm3: str = Field(description="The SM3 digest of the file, hex")
    contract: str
    delivery: int
    signer: str = Field(description="The providing unit whose key signed")
    key_id: str
    signature: str = Field(description="r ‖ s, 128 hex digits")


class FileVerification(BaseModel):
    """What a file's check found: valid only if the signature verifies with the published key it
    names over these very bytes; the contract and delivery then come from the signed file."""

    valid: bool
    reason: str
    key_id: str = ""
    signer: str = ""
    contract: str = ""
    delivery: int | None = None


class AnalysisResult(BaseModel):
    """A sandboxed analysis under a contract (沙箱交付): only the sandbox's released result —
    aggregates with noise, their cost in ε and accuracy — leaves; metered as one call whose rows
    are the rows of the result."""

    delivery_id: int
    contract_number: str
    product_number: str
    resource_code: str
    rule: str
    duties: list[str]
    purpose: str
    query_id: int
    columns: list[str]
    rows: list[dict[str, Any]]
    accuracy: list[dict[str, Any]] = Field(description="OpenDP's accuracy at 95 % per column")
    epsilon_spent: float
    remaining: float | None
    price_yuan: Decimal
    access_id: int | None


class DeliveryPage(BaseModel):
    """Rows delivered under a contract, with the rule that allowed them and what was metered."""

    delivery_id: int
    contract_number: str
    product_number: str
    resource_code: str
    rule: str = Field(description="The ODRL rule that allowed the delivery: permission[0]…")
    duties: list[str] = Field(description="What the customer must do: delete at the term's end…")
    purpose: str
    level: str
    masked: dict[str, str]
    total: int
    rows: list[dict[str, Any]]
    bytes: int
    price_yuan: Decimal
    access_id: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    contract_id: int
    product_id: int
    customer_unit_code: str
    provider_unit_code: str
    resource_code: str
    purpose: str
    scenario: str
    outcome: str
    rule: str
    reason: str
    rows: int
    bytes: int
    price_fen: int
    access_id: int | None
    mode: DeliveryMode = DeliveryMode.api
    file_format: str = ""


class StatementSide(StrEnum):
    customer = "customer"  # what a company used and owes
    provider = "provider"  # what an operator (or unit) delivered and earns


class StatementLine(BaseModel):
    """One contract's month: its calls (allowed and refused), rows, bytes and amount."""

    contract_number: str
    product_number: str
    product_name: str
    price_model: PriceModel
    customer_unit_code: str
    provider_unit_code: str
    purpose: str
    calls: int
    refused: int
    rows: int
    bytes: int
    amount_yuan: Decimal


class Statement(BaseModel):
    """A monthly statement (月度账单) of one customer or one provider, the city's month."""

    month: str
    side: StatementSide
    unit_code: str
    unit_name: str = ""
    lines: list[StatementLine]
    calls: int
    refused: int
    rows: int
    bytes: int
    amount_yuan: Decimal


class SampleSource(BaseModel):
    """One source's sample rows, masked as a delivery masks them, or why none were read."""

    resource_code: str
    level: str = ""
    masked: dict[str, str] = Field(default_factory=dict, description="Field → masking applied")
    rows: list[dict[str, Any]] = Field(default_factory=list)
    refused: str = Field("", description="Why this source's rows were not read, when not")


class ProductSample(BaseModel):
    """A listed product's sample (样例数据): a few masked rows, read before any contract."""

    product_id: int
    number: str
    limit: int
    sources: list[SampleSource]
