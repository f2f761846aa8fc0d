"""The console's revenue report (有偿使用收入): a period, the totals, a bar chart of the amount
by providing unit and by product (drawn on the server), the four tables and the downloads."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.web.charts import Chart, ranked_bars
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import failure_text
from citybase.core.web.i18n import add_translations
from citybase.core.web.templating import NavEntry, console
from citybase.data.products import service
from citybase.data.products.auth import PRODUCTS_REGISTER, ProductsRegistrar

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("Data", "Data product revenue", "/console/products/revenue",
                          PRODUCTS_REGISTER, order=48))  # fmt: skip
MOST_BARS = 10
add_translations("zh", {
    "Data product revenue": "有偿使用收入",
    "Revenue by providing unit": "按提供单位的收入（元）",
    "Revenue by data product": "按数据产品的收入（元，前十）",
    "products.revenue.period": "期间",
    "products.revenue.period_hint": "年（2026）、季度（2026-Q4）或月份（2026-12）",
    "products.revenue.from": "起始日",
    "products.revenue.to": "截止日",
    "products.revenue.city": "全市",
    "products.revenue.scope": "范围",
    "products.revenue.paid": "有偿使用",
    "products.revenue.free": "公益使用（免费）",
    "products.revenue.amount": "收入（元）",
    "products.revenue.by_product": "按数据产品",
    "products.revenue.by_provider": "按提供单位",
    "products.revenue.by_scenario": "按应用场景",
    "products.revenue.by_customer": "按需方",
    "products.revenue.no_scenario": "未指明场景",
    "products.revenue.none": "该期间没有交付。",
    "products.revenue.download": "下载",
    "products.revenue.note": "有偿使用按各产品的价格策略计价（按次、按条、包月每月一次）；免费产品和公益类授权运营协议下的产品的使用计为公益使用，另列不计收入；被拒的交付不计费。",
})  # fmt: skip
add_translations("en", {
    "products.revenue.period": "Period",
    "products.revenue.period_hint": "a year (2026), a quarter (2026-Q4) or a month (2026-12)",
    "products.revenue.from": "From",
    "products.revenue.to": "To",
    "products.revenue.city": "The whole city",
    "products.revenue.scope": "Scope",
    "products.revenue.paid": "Paid use",
    "products.revenue.free": "Public-interest use (free)",
    "products.revenue.amount": "Revenue (yuan)",
    "products.revenue.by_product": "By data product",
    "products.revenue.by_provider": "By providing unit",
    "products.revenue.by_scenario": "By scenario",
    "products.revenue.by_customer": "By customer",
    "products.revenue.no_scenario": "No scenario named",
    "products.revenue.none": "No deliveries in the period.",
    "products.revenue.download": "Download",
    "products.revenue.note": "Paid use is priced by each product's price policy (per call, per row, a monthly subscription once a month); use of free products and of products under a public-interest agreement is counted as public-interest use, apart, with no revenue; refused deliveries are not charged.",
})  # fmt: skip


def _bars(title: str, rows: list[tuple[str, float, str]]) -> Chart | None:
    return ranked_bars(title, [r for r in rows if r[1] > 0][:MOST_BARS], value_format="{:,.2f}")


@router.get("/console/products/revenue")
def revenue_page(
    request: Request, session: DbSession, settings: AppSettings, principal: ProductsRegistrar
) -> Response:
    q = request.query_params
    period, first, last = q.get("period", "")[:10], q.get("from", "")[:10], q.get("to", "")[:10]
    report, problem, charts = None, "", []
    try:
        found = service.parse_period(period, first, last)
        report = service.revenue_report(session, principal, settings.products, found)
    except (Forbidden, InvalidInput) as exc:  # a customer's user; a period that is none
        problem = failure_text(session, exc)
    if report is not None:
        charts = [c for c in (
            _bars("Revenue by providing unit",
                  [(x.name or x.key, float(x.amount_yuan), "") for x in report.by_provider]),
            _bars("Revenue by data product",
                  [(x.name[:14], float(x.amount_yuan), "") for x in report.by_product]),
        ) if c is not None]  # fmt: skip
    asked = {k: v for k, v in (("period", period), ("from", first), ("to", last)) if v}
    return console.render(request, "products/revenue.html", {
        "r": report, "problem": problem, "period": period, "first": first, "last": last,
        "charts": charts, "query": urlencode(asked),
    })  # fmt: skip
