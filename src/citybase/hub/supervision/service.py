"""Supervision: the working-clock sweep that turns stages yellow and red and escalates, and the
centre's figures by unit, district and category over a period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from citybase.core.clock import CITY_TZ
from citybase.core.identity.schemas import Principal
from citybase.core.identity.service import actor_of
from citybase.core.ledger import service as ledger
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.tables import write_xlsx
from citybase.core.workdays import calendar_for
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import CaseFilter, CaseRead, CaseWarning, Figures
from citybase.hub.events import service as events


def sweep(session: Session, settings: Settings, now: datetime | None = None) -> list[CaseWarning]:
    return cases.sweep(session, calendar_for(settings.home), settings.hub.warn_fraction, now)


def figures(
    session: Session, by: str | None, since: datetime | None, until: datetime | None
) -> list[Figures]:
    return cases.figures(session, by, since, until)


def flagged(session: Session, principal: Principal, level: str, limit: int = 200) -> list[CaseRead]:
    """Cases now yellow or red, for the supervisor's board."""
    items, _ = cases.find(session, principal, CaseFilter(warning=level, limit=limit))
    return items


RATES = (("按时签收率", "on_time_signing"), ("按时办结率", "on_time_closing"), ("退单率", "return_rate"),
         ("重办率", "reopen_rate"), ("满意率", "satisfaction_rate"), ("一次办结率", "first_time_rate"),
         ("派单准确率", "dispatch_accuracy"))  # fmt: skip


def _percent(value: float | None) -> float | None:
    return round(value * 100, 1) if value is not None else None


def report(session: Session, principal: Principal, since: datetime, until: datetime) -> bytes:
    """The centre's report (通报) over the cases taken in in [since, until): the figures for all,
    every unit ranked by 按时办结率 then 满意率, every district and 大类, and the cases now overdue,
    as an Excel workbook; on the ledger. A district's centre gets its district: its figures, its
    units, and its overdue cases (the 大类 are counted for the whole city only)."""
    period = f"{since.astimezone(CITY_TZ):%Y-%m-%d} 至 {(until - timedelta(seconds=1)).astimezone(CITY_TZ):%Y-%m-%d}"
    header = ("", "工单量", *(name for name, _ in RATES), "当前逾期")

    def line(label: str, f: Figures) -> tuple[Any, ...]:
        return (label, f.cases, *(_percent(getattr(f, key)) for _, key in RATES), f.overdue)

    area = cases.Mover.of(session, principal).region  # a district's centre: its district
    whole = cases.figures(session, None, since, until)
    by_unit = cases.figures(session, "unit", since, until)
    by_district = cases.figures(session, "district", since, until)
    by_category = cases.figures(session, "category", since, until)
    if area is not None:
        district = area[:6]
        whole = [f for f in by_district if f.key == district] or [cases.no_figures()]
        within = {u.code for u in orgs.list_units(session) if u.region_code.startswith(district)}
        by_unit = [f for f in by_unit if f.key in within]
        by_district = [f for f in by_district if f.key == district]
        by_category = []  # counted for the whole city only
    by_unit.sort(key=lambda f: (-(f.on_time_closing or 0), -(f.satisfaction_rate or 0), -f.cases))
    units = orgs.unit_names(session, {f.key for f in by_unit if f.key})
    regions = orgs.region_names(session, {f.key for f in by_district if f.key})
    names = {c.code: c.name for c in events.categories(session, active_only=False)}
    overdue, _ = cases.find(session, principal, CaseFilter(warning="red", limit=500))
    units |= orgs.unit_names(session, {c.lead_unit for c in overdue if c.lead_unit} - units.keys())
    regions |= orgs.region_names(
        session, {c.district_code for c in overdue} - regions.keys() - {""}
    )
    sheets: list[tuple[str, tuple[str, ...], Any]] = [
        ("总体", ("统计期", *header[1:]), [(period, *line("", f)[1:]) for f in whole]),
        ("单位排名", ("名次", "单位", *header[1:]),
         [(n + 1, *line(units.get(f.key, f.key) or "（未派单）", f)) for n, f in enumerate(by_unit)]),
        ("区县", ("区县", *header[1:]),
         [line(regions.get(f.key, f.key) or "（未定位）", f) for f in by_district]),
    ]  # fmt: skip
    if area is None:
        sheets.append(("大类", ("大类", *header[1:]),
                       [line(names.get(f.key, f.key) or "（未分类）", f) for f in by_category]))  # fmt: skip
    book = write_xlsx([
        *sheets,
        ("当前逾期工单", ("工单编号", "标题", "主办单位", "区县", "受理时间", "办理时限"),
         [(c.number, c.title, units.get(c.lead_unit) or c.lead_unit,
           regions.get(c.district_code) or c.district_code,
           f"{c.accepted_at.astimezone(CITY_TZ):%Y-%m-%d %H:%M}",
           f"{c.handle_due.astimezone(CITY_TZ):%Y-%m-%d %H:%M}" if c.handle_due else "")
          for c in overdue]),
    ])  # fmt: skip
    ledger.record(session, actor_of(principal), "hub.supervision.reported",
                  details={"since": since.isoformat(), "until": until.isoformat()})  # fmt: skip
    return book
