"""Tables of authorized operation (授权运营), data products, scenarios and data assets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, ForeignKey, Index, String, Text, event
from sqlalchemy.dialects.postgresql import TSVECTOR
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


# The catalog's index: PostgreSQL keeps a text-search vector of the tokens (a trigger fills it)
# under a GIN index; SQLite an FTS5 table over them, kept in step by triggers. Both with their
# plain tokenizers over data/search's bigram tokens, as the resource search does.
CATALOG_POSTGRES_DDL = (
    "CREATE FUNCTION products_catalog_vector() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.search_vector := to_tsvector('simple', NEW.search_tokens); RETURN NEW; END $$",
    "CREATE TRIGGER products_catalog_vector BEFORE INSERT OR UPDATE ON products_catalog "
    "FOR EACH ROW EXECUTE FUNCTION products_catalog_vector()",
)
CATALOG_FTS = "products_catalog_fts"
CATALOG_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE products_catalog_fts USING fts5(search_tokens, "
    "content='products_catalog', content_rowid='product_id', tokenize='unicode61')",
    "CREATE TRIGGER products_catalog_ai AFTER INSERT ON products_catalog BEGIN "
    "INSERT INTO products_catalog_fts(rowid, search_tokens) "
    "VALUES (new.product_id, new.search_tokens); END",
    "CREATE TRIGGER products_catalog_ad AFTER DELETE ON products_catalog BEGIN "
    "INSERT INTO products_catalog_fts(products_catalog_fts, rowid, search_tokens) "
    "VALUES ('delete', old.product_id, old.search_tokens); END",
    "CREATE TRIGGER products_catalog_au AFTER UPDATE ON products_catalog BEGIN "
    "INSERT INTO products_catalog_fts(products_catalog_fts, rowid, search_tokens) "
    "VALUES ('delete', old.product_id, old.search_tokens); "
    "INSERT INTO products_catalog_fts(rowid, search_tokens) "
    "VALUES (new.product_id, new.search_tokens); END",
)


class CatalogEntry(Base):
    """A listed product as the catalog's index holds it (目录索引): its tokens, what it is
    faceted and ordered by, and its agreement (whose liveness is checked at query time). A row
    is written when the product is listed and removed when it is delisted."""

    __tablename__ = "products_catalog"
    __table_args__ = (
        Index("ix_products_catalog_vector", "search_vector", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    product_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("products_products.id", ondelete="CASCADE"), primary_key=True
    )
    agreement_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(12))
    sector: Mapped[str] = mapped_column(String(40), default="")
    price_model: Mapped[str] = mapped_column(String(12))
    listed_at: Mapped[datetime]
    # the name's tokens (a name match weighs three times), and the name, sector and description's
    name_tokens: Mapped[str] = mapped_column(Text, default="")
    search_tokens: Mapped[str] = mapped_column(Text, default="")
    # PostgreSQL only (filled by its trigger); always empty on SQLite, where FTS5 indexes
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR().with_variant(Text(), "sqlite"))


@event.listens_for(CatalogEntry.__table__, "after_create")
def _create_catalog_index(target: object, connection: Connection, **_: Any) -> None:
    """Tables made from the models (not the migrations) get the FTS5 table or trigger too."""
    ddl = CATALOG_SQLITE_DDL if connection.dialect.name == "sqlite" else CATALOG_POSTGRES_DDL
    for statement in ddl:
        connection.exec_driver_sql(statement)


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


class ProductNegotiation(IdMixin, TimestampMixin, Base):
    """A contract negotiation (合同协商) over a listed product, as the Dataspace Protocol 2024-1
    runs it: this side is the provider, ``provider_pid`` its id for the process, the customer's
    ``consumer_pid`` its own. ``state`` is the protocol's (``dspace:REQUESTED``…)."""

    __tablename__ = "products_negotiations"

    provider_pid: Mapped[str] = mapped_column(String(80), unique=True)
    consumer_pid: Mapped[str] = mapped_column(String(200))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products_products.id", ondelete="RESTRICT"), index=True
    )
    customer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    purposes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    scenario: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    # the offer on the table (ODRL JSON-LD), the terms the provider set, the agreement once made
    offer: Mapped[dict[str, Any]] = mapped_column(JSONType)
    terms: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    agreement: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    callback_address: Mapped[str] = mapped_column(String(500), default="")
    contract_id: Mapped[int | None] = mapped_column(BigInteger)
    # every state it went through: [{state, by, at, reason}]
    history: Mapped[list[Any]] = mapped_column(JSONType, default=list)


class ProductContract(IdMixin, TimestampMixin, Base):
    """A data-product contract (数据产品合同): the ODRL 2.2 Agreement a finalized negotiation
    made, in force until its term ends or it is revoked; its meters count what it has served."""

    __tablename__ = "products_contracts"

    number: Mapped[str] = mapped_column(String(30), unique=True)
    negotiation_id: Mapped[int] = mapped_column(
        ForeignKey("products_negotiations.id", ondelete="RESTRICT"), unique=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products_products.id", ondelete="RESTRICT"), index=True
    )
    customer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    purposes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    scenario: Mapped[str] = mapped_column(String(200), default="")
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the ODRL Agreement
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="in_force")  # in_force, revoked
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str] = mapped_column(String(100), default="")
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    # the per-contract key (an API key of the customer) deliveries are fetched with
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class ProductDelivery(IdMixin, Base):
    """One delivery asked under a contract (交付), allowed or refused: the rule that decided it,
    what it served (its meter: one call, rows, bytes) and what it costs by the product's price
    policy; traced by product, contract, customer and purpose. Statements sum these."""

    __tablename__ = "products_deliveries"
    __table_args__ = (
        Index("ix_products_deliveries_customer_at", "customer_unit_code", "at"),
        Index("ix_products_deliveries_provider_at", "provider_unit_code", "at"),
        Index("ix_products_deliveries_at", "at"),  # the bureau's revenue over every provider
    )

    at: Mapped[datetime]
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("products_contracts.id", ondelete="RESTRICT"), index=True
    )
    product_id: Mapped[int] = mapped_column(BigInteger)
    customer_unit_code: Mapped[str] = mapped_column(String(40))
    provider_unit_code: Mapped[str] = mapped_column(String(40))
    resource_code: Mapped[str] = mapped_column(String(40), default="")
    purpose: Mapped[str] = mapped_column(String(500), default="")
    scenario: Mapped[str] = mapped_column(String(200), default="")
    outcome: Mapped[str] = mapped_column(String(10))  # allowed, refused
    rule: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    rows: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    access_id: Mapped[int | None] = mapped_column(BigInteger)  # the traced read's log row
    username: Mapped[str] = mapped_column(String(100))
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    # api, file (a signed file) or sandbox (an analysis whose aggregate result alone leaves)
    mode: Mapped[str] = mapped_column(String(10), default="api", server_default="api")
    file_format: Mapped[str] = mapped_column(String(10), default="", server_default="")
    file_sm3: Mapped[str] = mapped_column(String(64), default="", server_default="")
    signature: Mapped[str] = mapped_column(Text, default="", server_default="")  # the detached one


class ProductTransfer(IdMixin, TimestampMixin, Base):
    """A transfer process of the Dataspace Protocol 2024-1 (数据传输) under a contract, citybase
    as the provider: ``provider_pid`` its id here, the consumer's ``consumer_pid`` its own,
    ``state`` the protocol's (``dspace:REQUESTED``…). A started pull's data address points at
    the contract's delivery endpoint (``endpoint``, ``mode``) with a short-lived key of the
    customer (``api_key_id``) that serves it while the transfer is started."""

    __tablename__ = "products_transfers"

    provider_pid: Mapped[str] = mapped_column(String(80), unique=True)
    consumer_pid: Mapped[str] = mapped_column(String(200))
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("products_contracts.id", ondelete="RESTRICT"), index=True
    )
    customer_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    provider_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    format: Mapped[str] = mapped_column(String(80))  # dct:format, HttpData-PULL
    mode: Mapped[str] = mapped_column(String(10))  # the delivery mode the endpoint serves
    endpoint: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[str] = mapped_column(String(20), index=True)
    callback_address: Mapped[str] = mapped_column(String(500), default="")
    api_key_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # every state it went through: [{state, by, at, reason}]
    history: Mapped[list[Any]] = mapped_column(JSONType, default=list)
