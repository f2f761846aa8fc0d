"""A listed product's sample rows (样例数据): a handful of its sources' rows, masked as a
delivery masks them, shown on the product's page and by the API before any contract.

A sample is the one traced read of each source (``sharing.read_rows_under``) with the product
as basis (kind ``sample``, ledger action ``products.sample``): on the ledger and in the access
log like any delivery. It is refused before anything is read when more rows are asked than the
configured handful (``products.sample_rows``), when the product is not on offer, or when its
grade is above what may be shown publicly: only general data of grades 1 and 2 with no personal
data found (一般数据 1–2 级) has sample rows; personal, important and core data never do."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Principal
from citybase.core.settings import ProductsSettings
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.products import repository
from citybase.data.products.registration import get_accessible_product
from citybase.data.products.schemas import ProductSample, SampleSource
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import Basis, ReadContext

ACTION = "products.sample"
PURPOSE = "数据产品样例展示"
RULE_SAMPLE_GRADE = "product.sample_grade"
RULE_SAMPLE_ROWS = "product.sample_rows"
# what may be shown to anyone who browses the catalog, before a contract
PUBLIC_GRADES = {Level.general_1.value, Level.general_2.value}


def read_sample(
    session: Session, principal: Principal, settings: ProductsSettings, keys: ops.Keys,
    product_id: int, limit: int | None = None,
) -> ProductSample:  # fmt: skip
    """Up to ``limit`` (at most the configured handful) masked rows of a listed product, taken
    from its sources in order; a source whose read is refused says why and shows none."""
    handful = settings.sample_rows
    if handful == 0:
        raise Forbidden("this platform shows no sample rows (products.sample_rows is 0)",
                        field="limit", rule=RULE_SAMPLE_ROWS)  # fmt: skip
    wanted = handful if limit is None else limit
    if wanted < 1 or wanted > handful:
        raise InvalidInput(f"a sample is 1 to {handful} rows", field="limit", rule=RULE_SAMPLE_ROWS)
    product = get_accessible_product(session, principal, settings, product_id)
    if not repository.is_offered(session, product.id, clock.today()):
        raise NotFound(f"no listed product {product.number}", field="product")
    if product.grade not in PUBLIC_GRADES or product.personal_data:
        raise Forbidden(
            f"product {product.number} is graded {product.grade or 'ungraded'}"
            + (" with personal data" if product.personal_data else "")
            + ": its rows are shown only under a contract",
            field="grade",
            rule=RULE_SAMPLE_GRADE,
        )
    basis = Basis(
        kind="sample", ref=product.number, legal_basis=f"数据产品样例 {product.number}",
        fields=(), purpose=PURPOSE, consumer=principal.unit_code or "", action=ACTION,
        mask_level=Level.general_3 if product.masked else None,
    )  # fmt: skip
    ctx = ReadContext(purpose=PURPOSE)
    sources: list[SampleSource] = []
    left = wanted
    for code in product.source_codes:
        if left == 0:
            break
        got = sharing.read_rows_under(
            session, principal, code, ctx, RowQuery(limit=left), keys, basis, up_to=left,
            operation="sample",
        )  # fmt: skip
        if isinstance(got, sharing.Refused):
            sources.append(SampleSource(resource_code=code, refused=got.message))
            continue
        rows = got.page.rows[:left]
        left -= len(rows)
        sources.append(SampleSource(resource_code=code, level=got.page.level,
                                    masked=dict(got.page.masked), rows=rows))  # fmt: skip
    return ProductSample(product_id=product.id, number=product.number, limit=wanted,
                         sources=sources)  # fmt: skip
