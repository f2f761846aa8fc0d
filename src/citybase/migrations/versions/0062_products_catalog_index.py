"""The product catalog's own index: listed products' bigram tokens under FTS5 or text search.

Revision ID: 0062
Revises: 0060
Create Date: 2026-12-06 20:00:00.000000
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import citybase.core.db.base

revision: str = "0062"
down_revision: str | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# as this revision made them (copied, not imported: a migration does not change with the models)
POSTGRES_DDL = (
    "CREATE FUNCTION products_catalog_vector() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "NEW.search_vector := to_tsvector('simple', NEW.search_tokens); RETURN NEW; END $$",
    "CREATE TRIGGER products_catalog_vector BEFORE INSERT OR UPDATE ON products_catalog "
    "FOR EACH ROW EXECUTE FUNCTION products_catalog_vector()",
)
SQLITE_DDL = (
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
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"([{_HAN}]+)|([0-9a-z]+)")


def _index_text(text: str) -> str:
    """data/search's bigram tokens of a text as this revision knew them."""
    result: list[str] = []
    for han, word in _RUNS.findall(unicodedata.normalize("NFKC", text).lower()):
        if word:
            result.append(word)
        elif len(han) == 1:
            result.append(han)
        else:
            result.extend(han[i : i + 2] for i in range(len(han) - 1))
            result.append(han[-1])
    return " ".join(result)


def upgrade() -> None:
    op.create_table(
        "products_catalog",
        sa.Column(
            "product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("agreement_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("sector", sa.String(length=40), nullable=False),
        sa.Column("price_model", sa.String(length=12), nullable=False),
        sa.Column("listed_at", citybase.core.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name_tokens", sa.Text(), nullable=False),
        sa.Column("search_tokens", sa.Text(), nullable=False),
        sa.Column(
            "search_vector", postgresql.TSVECTOR().with_variant(sa.Text(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products_products.id"],
            name=op.f("fk_products_catalog_product_id_products_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_products_catalog")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DDL:
            op.execute(statement)
    else:
        for statement in POSTGRES_DDL:
            op.execute(statement)
        op.create_index(
            "ix_products_catalog_vector",
            "products_catalog",
            ["search_vector"],
            postgresql_using="gin",
        )
    # the products listed today enter the index (their names' tokens filled in after)
    bind = op.get_bind()
    bind.execute(
        sa.text(
            "INSERT INTO products_catalog (product_id, agreement_id, kind, sector, price_model, "
            "listed_at, name_tokens, search_tokens) SELECT id, agreement_id, kind, sector, "
            "price_model, listed_at, '', search_tokens FROM products_products "
            "WHERE status = 'listed' AND listed_at IS NOT NULL"
        )
    )
    names = bind.execute(
        sa.text(
            "SELECT p.id, p.name FROM products_products p "
            "JOIN products_catalog c ON c.product_id = p.id"
        )
    ).all()
    for product_id, name in names:
        bind.execute(
            sa.text("UPDATE products_catalog SET name_tokens = :t WHERE product_id = :id"),
            {"t": _index_text(name), "id": product_id},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS products_catalog_fts")
    op.drop_table("products_catalog")
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION IF EXISTS products_catalog_vector()")
