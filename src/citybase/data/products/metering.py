"""Metering and statements (计量与账单): every delivery is kept with its meter (one call, its
rows, its bytes) and its price (``delivery.py``); a monthly statement sums them per contract
for one customer or one provider, over the city's calendar month (Asia/Shanghai).

Pricing by the product's price policy: per call (each allowed delivery), per row (each row
delivered), a monthly subscription (charged once for each month in which the contract had an
allowed delivery), or free. Refused deliveries are counted, never charged.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.orgs import service as orgs
from citybase.core.settings import ProductsSettings
from citybase.data.products import agreements, policies, repository
from citybase.data.products.auth import PRODUCTS_REGISTER
from citybase.data.products.schemas import (
    PriceModel,
    Statement,
    StatementLine,
    StatementSide,
    to_yuan,
)

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The first instant of the city's month and of the next, in UTC."""
    found = MONTH.match(month)
    if not found or not 2000 <= int(found[1]) <= 2999:
        raise InvalidInput(f"{month!r} is not a month (YYYY-MM)", field="month")
    year, number = int(found[1]), int(found[2])
    start = datetime(year, number, 1, tzinfo=policies.CITY)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=policies.CITY)
    return start.astimezone(UTC), end.astimezone(UTC)


def this_month(today: date | None = None) -> str:
    return (today or clock.today()).strftime("%Y-%m")


def monthly_statement(
    session: Session, principal: Principal, settings: ProductsSettings, month: str,
    side: StatementSide, unit_code: str = "",
) -> Statement:  # fmt: skip
    """One unit's statement for the month: its own (any party), or any unit's (the bureau).
    A provider's statement is read by the provider's operators and stewards."""
    unit = unit_code or principal.unit_code
    bureau = agreements.is_bureau(principal, settings)
    if not unit or (unit != principal.unit_code and not bureau):
        raise Forbidden("a statement is read by its own company or unit, or the bureau",
                        field="unit")  # fmt: skip
    if side is StatementSide.provider and not bureau and not principal.can(PRODUCTS_REGISTER):
        raise Forbidden("a provider's statement is read by its operators and data stewards",
                        field="side")  # fmt: skip
    start, end = month_bounds(month)
    sums = repository.delivery_sums(session, side.value, unit, start, end)
    contracts = repository.contracts_by_id(session, {s.contract_id for s in sums})
    products = repository.products_by_id(session, {c.product_id for c in contracts.values()})
    lines: dict[int, StatementLine] = {}
    for row in sums:
        contract = contracts[row.contract_id]
        product = products[contract.product_id]
        line = lines.get(row.contract_id) or StatementLine(
            contract_number=contract.number, product_number=product.number,
            product_name=product.name, price_model=PriceModel(product.price_model),
            customer_unit_code=contract.customer_unit_code,
            provider_unit_code=contract.provider_unit_code,
            purpose="、".join(contract.purposes), calls=0, refused=0, rows=0, bytes=0,
            amount_yuan=to_yuan(0),
        )  # fmt: skip
        calls, rows, size, price = (int(v) for v in (row.calls, row.rows, row.bytes, row.price_fen))
        if row.outcome == "allowed":  # (PostgreSQL sums big integers as numeric: int them)
            fen = price + (
                product.price_fen if product.price_model == PriceModel.monthly.value else 0
            )
            line = line.model_copy(update={
                "calls": line.calls + calls, "rows": line.rows + rows,
                "bytes": line.bytes + size, "amount_yuan": line.amount_yuan + to_yuan(fen),
            })  # fmt: skip
        else:
            line = line.model_copy(update={"refused": line.refused + calls})
        lines[row.contract_id] = line
    ordered = sorted(lines.values(), key=lambda line: line.contract_number)
    return Statement(
        month=month, side=side, unit_code=unit,
        unit_name=orgs.unit_names(session, {unit}).get(unit, ""), lines=ordered,
        calls=sum(x.calls for x in ordered), refused=sum(x.refused for x in ordered),
        rows=sum(x.rows for x in ordered), bytes=sum(x.bytes for x in ordered),
        amount_yuan=sum((x.amount_yuan for x in ordered), to_yuan(0)),
    )  # fmt: skip
