"""Revenue reports (有偿使用收入报表): what the paid use of public data earned over a period
— a month, a quarter, a year or any days — by product, by providing unit (the operator or the
unit whose resources the product is built from), by application scenario (数据要素应用场景) and
by customer, from the deliveries metered under contracts (``metering.py`` prices them the same
way: per call, per row, a monthly subscription once for each of the city's months in which a
contract had an allowed delivery, free none).

Use free of charge (公益使用: a product priced 免费, or offered under a public-interest
agreement) is counted apart from paid use. The bureau reads the whole city; a provider (its
operators or data stewards) reads its own products'; nobody else reads any.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.settings import ProductsSettings
from citybase.core.tables import write_xlsx
from citybase.data.products import agreements, repository
from citybase.data.products.auth import PRODUCTS_REGISTER
from citybase.data.products.models import DataProduct, OperationAgreement, ProductContract
from citybase.data.products.schemas import PriceModel, PricePolicy, to_yuan

YEAR = re.compile(r"^(\d{4})$")
QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MOST_DAYS = 3660  # a from–to period of ten years at most
DIMENSIONS = ("product", "provider", "scenario", "customer")


class RevenueLine(BaseModel):
    """One product, provider, scenario or customer over the period: its paid use (calls, rows,
    bytes and the amount earned), its free use apart, and the deliveries refused."""

    key: str  # the product's number, the unit's code, the scenario's name ("": none named)
    name: str
    provider_unit_code: str = ""  # for a product line
    calls: int = 0
    rows: int = 0
    bytes: int = 0
    amount_yuan: Decimal = Decimal("0.00")
    free_calls: int = 0
    free_rows: int = 0
    free_bytes: int = 0
    refused: int = 0


class RevenueReport(BaseModel):
    """The revenue of the paid use of public data over a period, four ways, with its total."""

    period: str
    starts_on: date
    ends_on: date  # the last day counted
    scope: str  # "city" (the bureau), or the provider's unit code
    scope_name: str = ""
    by_product: list[RevenueLine]
    by_provider: list[RevenueLine]
    by_scenario: list[RevenueLine]
    by_customer: list[RevenueLine]
    total: RevenueLine


@dataclass(frozen=True)
class Period:
    """Days of the city's calendar, the last one included."""

    label: str
    first: date
    last: date

    def months(self) -> list[tuple[datetime, datetime]]:
        """The period cut at the city's month boundaries, each piece as [start, end) in UTC:
        a monthly subscription is charged once in each piece that had a delivery."""
        pieces: list[tuple[datetime, datetime]] = []
        day = self.first
        while day <= self.last:
            after_month = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            stop = min(after_month, self.last + timedelta(days=1))
            pieces.append((_instant(day), _instant(stop)))
            day = stop
        return pieces


def _instant(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=clock.CITY_TZ).astimezone(UTC)


def _day(text: str, name: str) -> date:
    try:
        found = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not a day (YYYY-MM-DD)", field=name) from None
    if not 2000 <= found.year <= 2999:
        raise InvalidInput(f"{text!r} is not a day between 2000 and 2999", field=name)
    return found


def parse_period(period: str = "", first: str = "", last: str = "") -> Period:
    """A period from ``2026`` (a year), ``2026-Q4`` (a quarter), ``2026-12`` (a month), or
    from ``first`` to ``last`` (YYYY-MM-DD, both included); this month when none is given."""
    period = period.strip()
    if first or last:
        if period:
            raise InvalidInput("give a period or days from and to, not both", field="period")
        if not (first and last):
            raise InvalidInput("days from and to are given together",
                               field="to" if first else "from")  # fmt: skip
        start, end = _day(first, "from"), _day(last, "to")
        if end < start:
            raise InvalidInput(f"{last} is before {first}", field="to")
        if (end - start).days >= MOST_DAYS:
            raise InvalidInput(f"a period of at most {MOST_DAYS} days", field="to")
        return Period(f"{start.isoformat()}–{end.isoformat()}", start, end)
    period = period or clock.today().strftime("%Y-%m")
    year = YEAR.match(period) or QUARTER.match(period) or MONTH.match(period)
    if year is None or not 2000 <= int(year[1]) <= 2999:
        raise InvalidInput(f"{period!r} is not a year (2026), a quarter (2026-Q4) or a month "
                           "(2026-12) between 2000 and 2999", field="period")  # fmt: skip
    y = int(year[1])
    if YEAR.match(period):
        return Period(period, date(y, 1, 1), date(y, 12, 31))
    if QUARTER.match(period):
        q = int(year[2])
        start = date(y, 3 * q - 2, 1)
        after = date(y + q // 4, (3 * q) % 12 + 1, 1)
        return Period(f"{y}-Q{q}", start, after - timedelta(days=1))
    m = int(year[2])
    after = date(y + m // 12, m % 12 + 1, 1)
    return Period(period, date(y, m, 1), after - timedelta(days=1))


def scope_of(principal: Principal, settings: ProductsSettings) -> str | None:
    """Whose revenue the principal reads: None for the whole city (the bureau), else its own
    unit as provider (an operator company's or a unit's registrars)."""
    if agreements.is_bureau(principal, settings):
        return None
    if principal.can(PRODUCTS_REGISTER) and principal.unit_code:
        return principal.unit_code
    raise Forbidden("revenue reports are read by the bureau, and by a provider for its own "
                    "products", field="unit")  # fmt: skip


@dataclass
class _Sums:
    calls: int = 0
    rows: int = 0
    bytes: int = 0
    fen: int = 0
    free_calls: int = 0
    free_rows: int = 0
    free_bytes: int = 0
    refused: int = 0

    def add(self, other: _Sums) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class _Tally:
    sums: dict[str, dict[str, _Sums]] = field(default_factory=lambda: {d: {} for d in DIMENSIONS})
    total: _Sums = field(default_factory=_Sums)

    def add(self, keys: dict[str, str], sums: _Sums) -> None:
        for dimension, key in keys.items():
            self.sums[dimension].setdefault(key, _Sums()).add(sums)
        self.total.add(sums)


def is_free(product: DataProduct, deal: OperationAgreement | None) -> bool:
    """Use free of charge (公益): the product is free, or its agreement is a public-interest one."""
    return product.price_model == PriceModel.free.value or (
        deal is not None and deal.price_policy == PricePolicy.public_interest_free.value
    )


def _piece(
    rows: Iterable[Any], contracts: dict[int, ProductContract],
    products: dict[int, DataProduct], deals: dict[int, OperationAgreement],
) -> dict[int, _Sums]:  # fmt: skip
    """One month's piece of the period, per contract."""
    found: dict[int, _Sums] = {}
    for row in rows:
        product = products[contracts[row.contract_id].product_id]
        deal = deals.get(product.agreement_id) if product.agreement_id else None
        sums = found.setdefault(row.contract_id, _Sums())
        calls, n, size, fen = (int(v) for v in (row.calls, row.rows, row.bytes, row.price_fen))
        if row.outcome != "allowed":
            sums.refused += calls
        elif is_free(product, deal):
            sums.free_calls, sums.free_rows, sums.free_bytes = (
                sums.free_calls + calls, sums.free_rows + n, sums.free_bytes + size)  # fmt: skip
        else:
            monthly = product.price_fen if product.price_model == PriceModel.monthly.value else 0
            sums.calls, sums.rows, sums.bytes = sums.calls + calls, sums.rows + n, sums.bytes + size
            sums.fen += fen + (monthly if calls else 0)
    return found


def revenue_report(
    session: Session, principal: Principal, settings: ProductsSettings, period: Period
) -> RevenueReport:
    """The period's revenue the principal may read (``scope_of``), by product, provider,
    scenario and customer, largest amount first."""
    provider = scope_of(principal, settings)
    pieces = [repository.revenue_sums(session, start, end, provider)
              for start, end in period.months()]  # fmt: skip
    contracts = repository.contracts_by_id(session, {r.contract_id for p in pieces for r in p})
    products = repository.products_by_id(session, {c.product_id for c in contracts.values()})
    deals = repository.agreements_by_id(
        session, {p.agreement_id for p in products.values() if p.agreement_id}
    )
    tally = _Tally()
    for rows in pieces:
        for contract_id, sums in _piece(rows, contracts, products, deals).items():
            contract = contracts[contract_id]
            tally.add({
                "product": products[contract.product_id].number,
                "provider": contract.provider_unit_code, "scenario": contract.scenario,
                "customer": contract.customer_unit_code,
            }, sums)  # fmt: skip
    units = {c.provider_unit_code for c in contracts.values()}
    units |= {c.customer_unit_code for c in contracts.values()}
    names = orgs.unit_names(session, units | ({provider} if provider else set()))
    by_number = {p.number: p for p in products.values()}

    def lines(dimension: str) -> list[RevenueLine]:
        made = []
        for key, sums in tally.sums[dimension].items():
            product = by_number.get(key) if dimension == "product" else None
            name = (product.name if product else
                    key if dimension == "scenario" else names.get(key, key))  # fmt: skip
            made.append(_line(key, name, sums, product.owner_unit_code if product else ""))
        return sorted(made, key=lambda x: (-x.amount_yuan, -x.calls - x.free_calls, x.key))

    return RevenueReport(
        period=period.label, starts_on=period.first, ends_on=period.last,
        scope=provider or "city", scope_name=names.get(provider, "") if provider else "",
        by_product=lines("product"), by_provider=lines("provider"),
        by_scenario=lines("scenario"), by_customer=lines("customer"),
        total=_line("", "", tally.total, ""),
    )  # fmt: skip


def _line(key: str, name: str, sums: _Sums, provider: str) -> RevenueLine:
    return RevenueLine(
        key=key, name=name, provider_unit_code=provider, calls=sums.calls, rows=sums.rows,
        bytes=sums.bytes, amount_yuan=to_yuan(sums.fen), free_calls=sums.free_calls,
        free_rows=sums.free_rows, free_bytes=sums.free_bytes, refused=sums.refused,
    )  # fmt: skip


def paid_revenue(session: Session, start: datetime, end: datetime) -> Decimal:
    """What paid use earned over [start, end) across the city, in yuan (for the cockpit; the
    monthly subscriptions charged in each of the city's months the span touches)."""
    first = start.astimezone(clock.CITY_TZ).date()
    last = (end - timedelta(microseconds=1)).astimezone(clock.CITY_TZ).date()
    if last < first:
        return to_yuan(0)
    fen = 0
    for piece_start, piece_end in Period("", first, last).months():
        rows = repository.revenue_sums(session, max(piece_start, start), min(piece_end, end))
        contracts = repository.contracts_by_id(session, {r.contract_id for r in rows})
        products = repository.products_by_id(session, {c.product_id for c in contracts.values()})
        deals = repository.agreements_by_id(
            session, {p.agreement_id for p in products.values() if p.agreement_id}
        )
        fen += sum(s.fen for s in _piece(rows, contracts, products, deals).values())
    return to_yuan(fen)


# --- downloads ------------------------------------------------------------------------------------

HEADER = ["维度", "代码", "名称", "有偿调用次数", "有偿条数", "有偿字节", "收入（元）",
          "公益调用次数", "公益条数", "公益字节", "被拒次数"]  # fmt: skip
DIMENSION_NAMES = {"product": "按数据产品", "provider": "按提供单位", "scenario": "按应用场景",
                   "customer": "按需方"}  # fmt: skip


def _cells(dimension: str, line: RevenueLine) -> list[Any]:
    name = line.name or ("（未指明场景）" if dimension == "scenario" else "")
    return [DIMENSION_NAMES.get(dimension, "合计"), line.key, name, line.calls, line.rows,
            line.bytes, str(line.amount_yuan), line.free_calls, line.free_rows, line.free_bytes,
            line.refused]  # fmt: skip


def _table(report: RevenueReport) -> list[tuple[str, list[RevenueLine]]]:
    return [("product", report.by_product), ("provider", report.by_provider),
            ("scenario", report.by_scenario), ("customer", report.by_customer)]  # fmt: skip


def to_csv(report: RevenueReport) -> bytes:
    """Every line of the four ways and the total, one table (UTF-8 with a BOM, for Excel)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for dimension, found in _table(report):
        for line in found:
            writer.writerow(_cells(dimension, line))
    writer.writerow(_cells("total", report.total.model_copy(update={"name": "合计"})))
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(report: RevenueReport) -> bytes:
    """A workbook: one sheet for each way, the total on each."""
    sheets = []
    for dimension, found in _table(report):
        total = report.total.model_copy(update={"name": "合计"})
        rows = [_cells(dimension, line)[1:] for line in found] + [_cells("total", total)[1:]]
        sheets.append((DIMENSION_NAMES[dimension], HEADER[1:], rows))
    return write_xlsx(sheets)
