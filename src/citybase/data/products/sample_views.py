"""Console page of a listed product's sample rows (样例数据), read when asked for, not on every
view of the product's page (each sample is a traced read)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citybase.core.errors import CitybaseError, NotFound
from citybase.core.web.deps import AppSettings, DbSession, traced_read
from citybase.core.web.forms import failure_text
from citybase.core.web.i18n import add_translations
from citybase.core.web.params import Id
from citybase.core.web.templating import console
from citybase.data.masking import operators as ops
from citybase.data.products import service
from citybase.data.products.auth import ProductsBrowser

router = APIRouter(include_in_schema=False)
add_translations("zh", {
    "products.sample_rows": "样例数据",
    "products.sample_rows_note": "以下为脱敏后的少量样例行，按数据产品的脱敏规则处理，"
                                 "读取已记入访问日志；完整数据须签订合同后交付。",
    "products.sample_refused": "未读取",
    "products.sample_none": "无样例数据",
    "products.sample_show": "查看样例数据",
})  # fmt: skip
add_translations("en", {
    "products.sample_rows": "Sample rows",
    "products.sample_rows_note": "A few rows, masked as the product's deliveries are; the read "
                                 "is in the access log. The whole data is delivered under a "
                                 "contract.",
    "products.sample_refused": "Not read",
    "products.sample_none": "No sample rows",
    "products.sample_show": "Show sample rows",
})  # fmt: skip


@router.get("/console/products/{product_id}/sample")
@traced_read
def sample_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsBrowser,
    product_id: Id,
) -> Response:  # fmt: skip
    product = service.get_accessible_product(session, principal, settings.products, product_id)
    keys = ops.keys_for(settings.masking_key)
    try:
        sample = service.read_sample(session, principal, settings.products, keys, product_id)
    except NotFound:
        raise
    except CitybaseError as exc:
        page = console.render(request, "products/sample.html", {
            "p": product, "sample": None, "error": failure_text(session, exc),
        })  # fmt: skip
        page.status_code = exc.status_code
        return page
    return console.render(request, "products/sample.html",
                          {"p": product, "sample": sample, "error": ""})  # fmt: skip
