"""Tables of authorized operation (授权运营), data products, scenarios and data assets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, BigIntPK, IdMixin, JSONType, TimestampMixin


class OperationAgreement(IdMixin, TimestampMixin, Base):
    """The bureau's grant to an operator company (授权运营协议): which resources or theme
    libraries, for which purposes and scenarios, how long, with what duties and price policy."""

    __tablename__ = "products_agreements"

    number: Mapped[str] = mapped_column(String(30), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    operator_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    operator_credit_code: Mapped[str] = mapped_column(String(18))
    resource_codes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    themes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    purposes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    scenarios: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    security_duties: Mapped[str] = mapped_column(Text, default="")
    price_policy: Mapped[str] = mapped_column(String(20))  # public_interest_free, priced
    price_note: Mapped[str] = mapped_column(Text, default="")
    # granted → reviewed → signed (live within its dates) → suspended ⇄ signed → ended;
    # granted → rejected
    status: Mapped[str] = mapped_column(String(12), default="granted", index=True)
    granted_by: Mapped[str] = mapped_column(String(100))
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    signed_by: Mapped[str] = mapped_column(String(100), default="")
    signed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    last_reason: Mapped[str] = mapped_column(Text, default="")


class DataProduct(IdMixin, TimestampMixin, Base):
    """A registered data product (数据产品登记): what it is made of, its grade, quality, price,
    the compliance checks it passed, and where it stands (reviewed, listed 上架, delisted 下架)."""

    __tablename__ = "products_products"
    __table_args__ = (Index("ix_products_products_status_kind", "status", "kind"),)

    number: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))  # dataset, api, report, sandbox
    owner_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    agreement_id: Mapped[int | None] = mapped_column(
        ForeignKey("products_agreements.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(Text, default="")
    sector: Mapped[str] = mapped_column(String(40), default="")
    source_codes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    update_cycle: Mapped[str] = mapped_column(String(20))
    sample: Mapped[str] = mapped_column(Text, default="")
    sample_rows: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    quality: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{code, score, rules}]
    grade: Mapped[str] = mapped_column(String(20), default="")
    personal_data: Mapped[bool] = mapped_column(default=False)
    masked: Mapped[bool] = mapped_column(default=False)
    price_model: Mapped[str] = mapped_column(String(12))  # free, per_call, per_row, monthly
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    licence: Mapped[str] = mapped_column(String(200), default="")
    # the ODRL offer attached when the product is listed (a policy document; contracts later)
    offer_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    checks: Mapped[list[Any]] = mapped_column(JSONType, default=list)  # [{rule, passed, detail}]
    # submitted → approved → listed ⇄ delisted; submitted → rejected
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    registered_by: Mapped[str] = mapped_column(String(100))
    reviewed_by: Mapped[str] = mapped_column(String(100), default="")
    review_reason: Mapped[str] = mapped_column(Text, default="")
    listed_at: Mapped[datetime | None]
    delisted_at: Mapped[datetime | None]
    # the name, description and sector as search tokens (data/search's bigrams)
    search_tokens: Mapped[str] = mapped_column(Text, default="")


class Scenario(IdMixin, TimestampMixin, Base):
    """An application scenario of the data elements (数据要素应用场景储备库)."""

    __tablename__ = "products_scenarios"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner_unit_code: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default="planned")


class ProductScenario(Base):
    """A product serving a scenario (many to many)."""

    __tablename__ = "products_product_scenarios"

    product_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("products_products.id", ondelete="CASCADE"), primary_key=True
    )
    scenario_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("products_scenarios.id", ondelete="CASCADE"), primary_key=True,
        index=True,
    )  # fmt: skip


class DataAsset(IdMixin, TimestampMixin, Base):
    """A resource or product a unit records as a data asset (数据资产入表), at its current value."""

    __tablename__ = "products_assets"

    number: Mapped[str] = mapped_column(String(30), unique=True)
    unit_code: Mapped[str] = mapped_column(String(40), index=True)
    subject_kind: Mapped[str] = mapped_column(String(10))  # resource, product
    subject_code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    expected_benefit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    method: Mapped[str] = mapped_column(String(10))  # cost, income, market
    value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(default=1)


class AssetEntry(IdMixin, Base):
    """One state of a data asset's entry, kept for ever: recorded, then each revaluation."""

    __tablename__ = "products_asset_entries"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("products_assets.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    cost_fen: Mapped[int] = mapped_column(BigInteger)
    expected_benefit_fen: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(10))
    value_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime]
