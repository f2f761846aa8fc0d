"""The console's maps: Leaflet (served by the app from the xstatic packages) drawing regions'
outlines as the base layer — no tile server — with devices, cases or data sets as point layers
that cluster when many, and a district layer coloured by a count (heat).

A page builds a ``MapView`` and renders it with ``_map.html``'s ``map`` macro: the layers' data
go into the page as a JSON block (not a script), the outlines are fetched from
``/regions/outlines`` (simplified, cached), and the legend is written by the server in the page's
language, so the page reads without script and ``static/map.js`` only draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from citybase.core.web.i18n import add_translations

HEAT_STEPS = 5  # classes heat-0 … heat-4 in citybase.css


@dataclass
class Outlines:
    """Regions' outlines from ``/regions/outlines`` (``query`` is its query string)."""

    key: str
    label: str  # English; the template translates it
    query: str
    focus: bool = False  # drawn stronger (the region of a region page)
    pick: bool = False  # a click chooses the region in the page's region picker
    heat: dict[str, int] | None = None  # region code → count, drawn as classes heat-0 … 4
    link: str = ""  # a click opens this path followed by the region's code


@dataclass
class Points:
    """Markers: ``items`` are [lat, lon, title, link, class]."""

    key: str
    label: str
    cls: str
    items: list[list[Any]] = field(default_factory=list)
    cluster: bool = True


@dataclass
class MapView:
    id: str
    title: str
    outlines: list[Outlines]
    points: list[Points] = field(default_factory=list)
    heat_label: str = ""

    @property
    def heat(self) -> tuple[list[str], int] | None:
        """The legend's steps of the heat layer ("0", "1–3", …) and its largest count."""
        for o in self.outlines:
            if o.heat is not None:
                top = max(o.heat.values(), default=0)
                return heat_steps(top), top
        return None

    def config(self) -> dict[str, Any]:
        top = max((max(o.heat.values(), default=0) for o in self.outlines if o.heat), default=0)
        return {
            "outlines": [
                {"key": o.key, "url": "/regions/outlines?" + o.query, "focus": o.focus,
                 "pick": o.pick, "link": o.link,
                 "heat": {c: heat_class(n, top) for c, n in o.heat.items()} if o.heat else None,
                 "counts": o.heat}
                for o in self.outlines
            ],
            "points": [{"key": p.key, "cls": p.cls, "cluster": p.cluster, "items": p.items}
                       for p in self.points],
        }  # fmt: skip


def heat_class(count: int, top: int) -> int:
    """0 for none, else 1 … HEAT_STEPS-1 by equal steps of the largest count."""
    if count <= 0 or top <= 0:
        return 0
    return min(HEAT_STEPS - 1, 1 + (count - 1) * (HEAT_STEPS - 1) // top)


def heat_steps(top: int) -> list[str]:
    """The legend of each heat class: the counts it holds ("0", "1–3", …)."""

    def first(k: int) -> int:  # the smallest count of class k (k ≥ 1)
        return 1 + -(-(k - 1) * top // (HEAT_STEPS - 1))

    steps = ["0"]
    for k in range(1, HEAT_STEPS):
        lo, hi = first(k), min(top, first(k + 1) - 1)
        if lo <= hi:
            steps.append(str(lo) if lo == hi else f"{lo}–{hi}")
    return steps


def point(lat: float | None, lon: float | None, title: str, link: str, cls: str) -> list[Any]:
    return [round(lat or 0.0, 6), round(lon or 0.0, 6), title, link, cls]


add_translations("zh", {
    "Map: drag to pan, wheel or +/− to zoom; numbered circles are groups of points, click to "
    "open them.": "地图：拖动平移，滚轮或 +/− 缩放；带数字的圆为点的聚合，点击展开。",
    "Click a district to choose it.": "点击区县可按该区县筛选。",
    "District outlines": "区县边界", "Outline": "边界", "Sub-regions": "下级区划",
    "Cases by district": "各区县工单数", "Cases with a place": "有位置的工单",
    "Where the cases are": "工单分布", "Cases (heat)": "工单数",
    "Data sets by district": "各区县数据资源数", "Data sets": "数据资源",
})  # fmt: skip
