"""The city-brain dashboard (cases by district on a map, the trend, the figures, hot spots) and the
supervisor's board (what is late, what waits for a decision, the figures by unit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from citybase.core import clock
from citybase.core.errors import CitybaseError
from citybase.core.orgs import boundaries
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionLevel
from citybase.core.web.charts import Chart, group_days, local_days, ranked_bars, stacked_days
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.forms import failure_text
from citybase.core.web.i18n import add_patterns, add_translations
from citybase.core.web.once import FormToken, claim
from citybase.core.web.params import Id
from citybase.core.web.templating import NavEntry, console
from citybase.core.workdays import calendar_for
from citybase.hub.brains import service
from citybase.hub.cases import service as cases
from citybase.hub.cases.auth import CASES_ALL, CASES_DISPATCH, CentreReader
from citybase.hub.cases.schemas import CaseFilter, CaseState
from citybase.hub.events import service as events
from citybase.hub.federation import service as federation

router = APIRouter(include_in_schema=False)
console.add_templates(Path(__file__).parent / "templates")
console.add_page(NavEntry("City brain", "City brain dashboard", "/console/hub/brain", CASES_ALL,
                          order=5))  # fmt: skip
console.add_page(NavEntry("City brain", "Supervision board", "/console/hub/board", CASES_ALL,
                          order=6))  # fmt: skip
add_translations("zh", {
    "City brain dashboard": "城市大脑驾驶舱", "Supervision board": "督办看板",
    "Monthly report of the centre": "月度通报",
    "Open cases by district": "各区县在办工单", "Cases a day": "每日受理量",
    "Hot spots": "热点预警", "Open a proactive task": "未诉先办", "Task": "任务",
    "Usual": "常态", "In the window": "窗口内", "Figures": "考核指标",
    "On-time signing": "按时签收率", "On-time closing": "按时办结率", "Return rate": "退单率",
    "Reopen rate": "重办率", "Satisfaction rate": "满意率", "First-time closing": "一次办结率",
    "Dispatch accuracy": "派单准确率", "Overdue now": "当前逾期", "Extensions to decide":
    "待审批延期", "Unsatisfied, to decide": "不满意待处理", "By unit": "按单位",
    "By district": "按区县", "By category": "按大类", "Last 30 days": "近30日",
    "schematic: each square is a district, placed roughly where it lies":
    "示意图：每个方块代表一个区县，按大致方位排列", "Open": "在办", "No hot spots.": "暂无热点。",
    "District outlines:": "区县边界：", "dots: open cases that have coordinates":
    "圆点：有坐标的在办事项",
    "Districts running their own brain": "独立部署的区县大脑",
    "figures as the district last sent them": "各区县最近上报的指标", "Sent at": "上报时间",
    "Open cases": "在办工单",
})  # fmt: skip

# where each of the demo city's districts sits on the schematic map (column, row); districts
# not listed are laid out after them in order
TILES = {
    "350123": (4, 0), "350124": (0, 1), "350121": (1, 1), "350102": (2, 1), "350111": (3, 1),
    "350122": (4, 1), "350100GX": (1, 2), "350103": (2, 2), "350105": (3, 2), "350125": (0, 3),
    "350104": (2, 3), "350112": (3, 3), "350181": (2, 4), "350128": (4, 4),
}  # fmt: skip
TILE = 86
MAP_WIDTH = 520


def _tiles(session: DbSession) -> list[dict[str, Any]]:
    counts = cases.open_by_district(session)
    districts = orgs.list_regions(session, level=RegionLevel.district)
    free = iter((c, r) for r in range(5, 12) for c in range(5))
    out = []
    for d in districts:
        col, row = TILES.get(d.code) or next(free)
        n, yellow, red = counts.get(d.code, (0, 0, 0))
        out.append({"code": d.code, "name": d.name, "x": col * TILE, "y": row * TILE,
                    "open": n, "yellow": yellow, "red": red,
                    "fill": "fill-red" if red else "fill-yellow" if yellow else
                    "fill-green" if n else "fill-none"})  # fmt: skip
    return out


def _map(session: DbSession, tiles: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The districts drawn from their outlines, coloured as the tiles are, with the open cases
    that have coordinates as dots; None unless every district is outlined."""
    # simplified as the console's maps draw them: the stored outlines are megabytes
    features = boundaries.map_collection(session, level=RegionLevel.district)["features"]
    if not tiles or len(features) < len(tiles):
        return None
    drawn = boundaries.drawing(features, width=MAP_WIDTH)
    if drawn is None:
        return None
    by_code = {t["code"]: t for t in tiles}
    shapes = [by_code[s.code] | vars(s) for s in drawn.shapes if s.code in by_code]
    dots = []
    for number, lon, lat, warning in cases.open_points(session):
        at = drawn.point(lon, lat)
        if at:
            dots.append({"number": number, "x": at[0], "y": at[1], "warning": warning})
    kept = boundaries.outlines(session, [f["properties"]["code"] for f in features])
    sources = {o.source for o in kept.values()}
    return {"width": drawn.width, "height": drawn.height, "shapes": shapes, "dots": dots,
            "sources": "、".join(sorted(s for s in sources if s))}  # fmt: skip


def _trend(session: DbSession, principal: Any, now: datetime) -> Chart | None:
    """The cases taken in per day of the last 30, stacked by 大类 (those the viewer sees)."""
    seen = cases.overview(session, principal, CaseFilter(limit=1), now - timedelta(days=30), 0)
    names = {c.code: c.name for c in events.categories(session, active_only=False) if c.level == 1}
    return stacked_days("Cases per day by kind (last 30 days)", local_days(now, 30),
                        group_days(seen.per_day), names, y_label="Number of cases")  # fmt: skip


def _by_district(tiles: list[dict[str, Any]]) -> Chart | None:
    """Open cases per district as bars, each with its count, linked to the district's list."""
    rows = [(t["name"], float(t["open"]), f"/console/hub/cases?district={t['code']}")
            for t in tiles if t["open"]]  # fmt: skip
    return ranked_bars("Open cases by district", rows, value_format="{:.0f}")


@router.get("/console/hub/brain")
def dashboard(request: Request, session: DbSession, principal: CentreReader) -> Response:
    now = datetime.now(UTC)
    tiles = _tiles(session)
    overall = next(iter(cases.figures(session, None, now - timedelta(days=30), None)), None)
    names = {c.code: c.name for c in events.categories(session, active_only=False)}
    regions = {t["code"]: t["name"] for t in tiles}
    return console.render(request, "hub/brain.html", {
        "tiles": tiles, "map": _map(session, tiles), "map_w": 5 * TILE, "map_h": (max((t["y"] for t in tiles), default=0)
                                                     + TILE), "tile": TILE - 6,
        "trend": _trend(session, principal, now), "by_district": _by_district(tiles), "figures": overall, "spots": service.hot_spots(session),
        "names": names, "regions": regions, "may_task": principal.can(CASES_DISPATCH),
        "districts": [p for p in federation.status(session) if p.role == "district"],
    })  # fmt: skip


@router.post("/console/hub/brain/hotspots/{hotspot_id}/task")
def open_task(
    request: Request,
    session: DbSession,
    principal: CentreReader,
    settings: AppSettings,
    hotspot_id: Id,
    token: FormToken,
) -> Response:
    try:
        once = claim(request, session, token)
        made = service.open_task(session, cases.Mover.of(session, principal), hotspot_id,
                                 home=settings.home, hub=settings.hub,
                                 cal=calendar_for(settings.home))  # fmt: skip
    except CitybaseError as exc:
        return RedirectResponse(f"/console/hub/brain?error={quote(failure_text(session, exc))}",
                                status_code=303)  # fmt: skip
    return once.redirect(session, f"/console/hub/cases/{made.number}?saved=1")


@router.get("/console/hub/board")
def board(request: Request, session: DbSession, principal: CentreReader) -> Response:
    since = datetime.now(UTC) - timedelta(days=30)
    red, _ = cases.find(session, principal, CaseFilter(warning="red", limit=100))
    yellow, _ = cases.find(session, principal, CaseFilter(warning="yellow", limit=100))
    waiting, _ = cases.find(session, principal, CaseFilter(
        state=[CaseState.signed, CaseState.handling], limit=500))  # fmt: skip
    unsatisfied, _ = cases.find(session, principal, CaseFilter(
        state=[CaseState.followed_up], limit=200))  # fmt: skip
    by_unit = cases.figures(session, "unit", since, None)
    units = orgs.unit_names(session, {f.key for f in by_unit if f.key})
    by_district = cases.figures(session, "district", since, None)
    regions = orgs.region_names(session, {f.key for f in by_district if f.key})
    return console.render(request, "hub/board.html", {
        "red": red, "yellow": yellow,
        "extensions": [c for c in waiting if c.extension_asked],
        "unsatisfied": [c for c in unsatisfied if c.satisfaction and
                        c.satisfaction.value == "unsatisfied"],
        "by_unit": by_unit, "units": units, "by_district": by_district, "regions": regions,
        "last_month": f"{clock.today().replace(day=1) - timedelta(days=1):%Y-%m}",
    })  # fmt: skip


add_patterns("zh", {r"no hot spot (\S+)": "未找到热点 {0}"})

# refusals a page may show, in Chinese (values kept in their place)
add_patterns("zh", {
    r"a task is already open for it: (.+?)": "已有针对它的未办结任务：{0}",
})  # fmt: skip
