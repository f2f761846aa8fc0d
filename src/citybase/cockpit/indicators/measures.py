"""What the platform measures itself (平台自动采集): named figures of its own records that an
indicator may declare as its ``measure``. A measured value is written for a month by the
scheduled job, marked as measured, and reviewed by the bureau like a reported one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.data.baselib import service as baselib
from citybase.data.catalog import service as catalog
from citybase.data.datastore import service as datastore
from citybase.data.opendata import service as opendata
from citybase.data.products import service as products
from citybase.data.sharing import service as sharing
from citybase.hub.cases import service as cases
from citybase.perception.devices import service as devices
from citybase.services.evaluation import service as evaluation


@dataclass(frozen=True)
class Window:
    """The month a figure is for: its first instant and the instant it is counted at (the
    month's end, or now for the month as it stands), both in the city's time."""

    period: str
    start: datetime
    end: datetime

    @classmethod
    def of_month(cls, period: str, now: datetime | None = None) -> Window:
        year, month = (int(p) for p in period.split("-"))
        start = datetime(year, month, 1, tzinfo=clock.CITY_TZ)
        after = date(year + month // 12, month % 12 + 1, 1)
        end = datetime(after.year, after.month, 1, tzinfo=clock.CITY_TZ)
        if now is not None and now < end:
            end = now
        return cls(period, start, end)

    @property
    def year_start(self) -> datetime:
        return datetime(self.start.year, 1, 1, tzinfo=clock.CITY_TZ)


@dataclass(frozen=True)
class Measure:
    """A figure the platform counts in its own records. ``unit`` is what it counts in;
    ``fills`` the indicator units it can fill, before a 万 or 亿 (a count of devices fills
    个, 台 or 户: a figure in 万个 is the count divided by 10,000)."""

    label: str
    unit: str
    fills: frozenset[str]
    how: str  # how it is counted, in the bureau's words
    count: Callable[[Session, Window], float | None]  # None: nothing to count from yet


SCALES = {"": 1.0, "千": 1e3, "万": 1e4, "十万": 1e5, "百万": 1e6, "千万": 1e7, "亿": 1e8}


def _norm(unit: str) -> str:
    return unit.strip().replace("％", "%").replace(" ", "").lower()


def scale(measure: Measure, indicator_unit: str) -> float | None:
    """What the measure's count is divided by to be in the indicator's unit; None when the
    measure cannot fill an indicator in that unit."""
    unit = _norm(indicator_unit)
    for prefix, factor in sorted(SCALES.items(), key=lambda kv: -len(kv[0])):
        if unit.startswith(prefix) and unit[len(prefix) :] in measure.fills:
            return factor
    return None


def _hotline_rate(field: str) -> Callable[[Session, Window], float | None]:
    """A 12345 figure over the cases taken in from the year's start to the window's end, in
    per cent."""

    def count(session: Session, window: Window) -> float | None:
        found = cases.figures(session, None, window.year_start, window.end)
        rate = getattr(found[0], field) if found else None
        return None if rate is None else round(rate * 100, 2)

    return count


def _collaboration(session: Session, window: Window) -> float | None:
    rate = cases.collaboration_rate(session, window.year_start, window.end)
    return None if rate is None else round(rate * 100, 2)


def _evaluation_rate(which: str) -> Callable[[Session, Window], float | None]:
    """A 好差评 figure over the ratings given from the year's start to the window's end."""
    return lambda session, window: evaluation.city_rate(session, which, window.year_start,
                                                        window.end)  # fmt: skip


COUNTS = frozenset({"个", "项"})
HOTLINE = "12345 热线本年受理的工单（1月1日至计量时点）"

MEASURES: dict[str, Measure] = {
    "data.catalog.published": Measure(
        "数据资源目录中已发布的资源数", "个", COUNTS,
        "目录中状态为“已发布”的数据资源，计量时点的现状",
        lambda s, w: float(catalog.status_counts(s).get("published", 0)),
    ),
    "data.opendata.datasets": Measure(
        "向社会开放的数据集数", "个", COUNTS, "开放门户上向社会开放的数据集，计量时点的现状",
        lambda s, w: float(len(opendata.datasets(s))),
    ),
    "data.sharing.shared_resources": Measure(
        "有授权在用的共享数据资源数", "个", COUNTS,
        "计量时点有有效共享授权（未到期、未撤销）的数据资源",
        lambda s, w: float(sharing.shared_resource_count(s, w.end)),
    ),
    "data.datastore.rows": Measure(
        "平台汇聚的数据量（政务数据汇聚量）", "条", frozenset({"条"}),
        "各数据资源在平台数据仓中的记录条数之和，计量时点的现状",
        lambda s, w: float(datastore.gathered_rows(s)),
    ),
    "data.baselib.themes": Measure(
        "已建成的主题库数", "个", COUNTS,
        "计量时点前至少成功构建过一次的主题库（按定义从来源资源和基础库汇聚生成）",
        lambda s, w: float(baselib.count_theme_libraries(s, w.end)),
    ),
    "data.products.listed": Measure(
        "累计上架（发布）的数据产品数", "个", COUNTS,
        "计量时点前经审核上架的数据产品，含其后下架的（上线累计）",
        lambda s, w: float(products.count_ever_listed(s, w.end)),
    ),
    "data.products.scenarios": Measure(
        "数据要素应用场景储备库中的场景数", "个", COUNTS,
        "计量时点前登记入数据要素应用场景储备库的场景",
        lambda s, w: float(products.count_scenarios_at(s, w.end)),
    ),
    "data.products.scenarios_served": Measure(
        "有上架数据产品服务的应用场景数", "个", COUNTS,
        "计量时点有在架数据产品服务的应用场景（公共数据经授权运营赋能的场景）",
        lambda s, w: float(products.count_scenarios_served(s, w.end)),
    ),
    "data.products.asset_units": Measure(
        "登记数据资产的单位数", "家", frozenset({"家", "个"}),
        "计量时点前登记过数据资产（数据资产入表）的单位和运营企业",
        lambda s, w: float(products.count_asset_units(s, w.end)),
    ),
    "data.products.contracts": Measure(
        "在用的数据产品合同数", "份", frozenset({"份", "个", "项"}),
        "计量时点有效的数据产品合同：已生效、未撤销、未到期",
        lambda s, w: float(products.count_contracts(s, w.end)),
    ),
    "data.products.revenue": Measure(
        "公共数据有偿使用收入（本年）", "元", frozenset({"元"}),
        "本年（1月1日至计量时点）按数据产品合同有偿使用公共数据的收入，按各产品价格策略计价"
        "（按次、按条、包月每月一次）；公益（免费）使用不计",
        lambda s, w: float(products.paid_revenue(s, w.year_start, w.end)),
    ),
    "perception.devices.connected": Measure(
        "接入平台的物联网终端数", "个", frozenset({"个", "台", "户"}),
        "计量时点前登记、在用且已上报过数据的感知设备",
        lambda s, w: float(devices.connected_count(s, w.end)),
    ),
    "hub.cases.collaboration": Measure(
        "跨部门协同办理的工单占比（跨部门业务协同率）", "%", frozenset({"%"}),
        "本年受理并已办结的工单中，由主办单位会同协办单位办理的占比",
        _collaboration,
    ),
    "hub.hotline.on_time_closing": Measure(
        "12345 按时办结率（本年受理）", "%", frozenset({"%"}), HOTLINE,
        _hotline_rate("on_time_closing"),
    ),
    "hub.hotline.on_time_signing": Measure(
        "12345 按时签收率（本年受理）", "%", frozenset({"%"}), HOTLINE,
        _hotline_rate("on_time_signing"),
    ),
    "hub.hotline.satisfaction": Measure(
        "12345 满意率（本年受理）", "%", frozenset({"%"}), HOTLINE,
        _hotline_rate("satisfaction_rate"),
    ),
    "hub.hotline.first_time": Measure(
        "12345 一次办结率（本年受理）", "%", frozenset({"%"}), HOTLINE,
        _hotline_rate("first_time_rate"),
    ),
    "services.evaluation.good_rate": Measure(
        "政务服务好评率（好差评，本年）", "%", frozenset({"%"}),
        "本年（1月1日至计量时点）企业和群众对已办结事项、“一件事”申请和 12345 工单的评价中，"
        "非常满意、满意和基本满意的占比",
        _evaluation_rate("good"),
    ),
    "services.evaluation.rectify_rate": Measure(
        "差评按时整改率（好差评，本年）", "%", frozenset({"%"}),
        "本年收到的差评中，已到整改期限或已反馈的，在期限内完成整改反馈的占比",
        _evaluation_rate("rectify"),
    ),
}  # fmt: skip


def value_of(session: Session, key: str, indicator_unit: str, window: Window) -> float | None:
    """The measure's figure for the window in the indicator's unit (None: nothing to count
    from yet)."""
    measure = MEASURES[key]
    factor = scale(measure, indicator_unit)
    count = measure.count(session, window)
    if count is None or factor is None:
        return None
    return round(count / factor, 6)


def problem_with(key: str, indicator_unit: str) -> str | None:
    """Why an indicator in ``indicator_unit`` cannot name ``key`` as its measure, or None."""
    if key not in MEASURES:
        return f"the platform measures no {key!r} (it measures {', '.join(sorted(MEASURES))})"
    measure = MEASURES[key]
    if scale(measure, indicator_unit) is None:
        fills = "、".join(sorted(measure.fills))
        return (f"{key} counts in {measure.unit}: it fills an indicator in {fills} "
                f"(or 万/亿 of them), not in {indicator_unit or 'no unit'}")  # fmt: skip
    return None
