"""Charts drawn by the server as SVG (no script, nothing fetched, the same on paper), with axes,
ticks, a legend and the values: a curve over time with its bands, threshold lines and marks
(a device's readings and alarms), bars per day stacked by kind (cases by 大类), and horizontal
bars with their values (figures by district). ``_charts.html`` draws what these return; labels
are English and translated there, names from the data are shown as they are.

The cockpit's own small charts (sparklines, task timelines) stay in ``cockpit/plans/charts.py``;
what several layers use is here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from citybase.core.web.i18n import add_translations

CITY_TZ = ZoneInfo("Asia/Shanghai")
PALETTE = 8  # classes series-0 … series-7 in citybase.css


def nice_ticks(low: float, high: float, most: int = 5) -> list[float]:
    """Round values (1, 2 or 5 × 10ⁿ apart) covering [low, high], at most ``most`` + 1."""
    if high <= low:
        high = low + 1
    raw = (high - low) / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:g}"


@dataclass
class Tick:
    at: float
    label: str


@dataclass
class Line:
    """A threshold or reference line across the plot, labelled with its value."""

    y: float
    label: str
    cls: str = "threshold"


@dataclass
class Mark:
    x: float
    y: float
    title: str
    cls: str = "alarm-mark"


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    cls: str
    title: str
    value: str = ""  # written at the bar's end when given
    label: str = ""  # a horizontal bar's name, left of it
    link: str = ""


@dataclass
class LegendEntry:
    cls: str
    label: str
    translate: bool = True  # False for names from the data


@dataclass
class Chart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    title: str
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_label: str = ""
    y_label: str = ""
    paths: list[tuple[str, str]] = field(default_factory=list)  # (class, d)
    bands: list[tuple[str, str, str]] = field(default_factory=list)  # (class, points, title)
    lines: list[Line] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    summary: str = ""  # the values in words, under the chart

    @property
    def bottom(self) -> int:
        return self.top + self.plot_h

    @property
    def right(self) -> int:
        return self.left + self.plot_w


# --- a curve over time -----------------------------------------------------------------------


@dataclass
class TimeSeries:
    label: str
    cls: str
    points: list[tuple[datetime, float]]


@dataclass
class TimeBand:
    label: str
    cls: str
    points: list[tuple[datetime, float, float]]  # (time, low, high)


def time_chart(
    title: str,
    series: list[TimeSeries],
    *,
    bands: list[TimeBand] | None = None,
    thresholds: list[tuple[float, str]] | None = None,
    marks: list[tuple[datetime, float, str]] | None = None,
    mark_label: str = "Alarm",
    y_label: str = "",
    width: int = 640,
    height: int = 220,
) -> Chart | None:
    """Curves over time on a time axis (local hours) and a value axis with round ticks; bands
    (forecast ranges) under them, threshold lines across, marks (alarms) on them. None when
    there is nothing to draw."""
    bands = bands or []
    thresholds = thresholds or []
    marks = marks or []
    times = [t for s in series for t, _ in s.points] + [t for b in bands for t, _, _ in b.points]
    values = [v for s in series for _, v in s.points]
    if not values:
        return None
    values += [lo for b in bands for _, lo, _ in b.points] + [
        hi for b in bands for *_, hi in b.points
    ]
    values += [v for v, _ in thresholds] + [v for _, v, _ in marks]
    times += [t for t, _, _ in marks]
    t0, t1 = min(times), max(times)
    if t1 <= t0:
        t1 = t0 + timedelta(hours=1)
    ticks = nice_ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    chart = Chart(width, height, 48, 10, width - 48 - 12, height - 10 - 34, title,
                  y_label=y_label)  # fmt: skip

    def x(t: datetime) -> float:
        return round(chart.left + (t - t0) / (t1 - t0) * chart.plot_w, 1)

    def y(v: float) -> float:
        return round(chart.bottom - (v - lo) / (hi - lo) * chart.plot_h, 1)

    chart.y_ticks = [Tick(y(v), fmt(v)) for v in ticks]
    span = t1 - t0
    step = next((h for h in (1, 2, 3, 4, 6, 12, 24, 48, 168)
                 if span / timedelta(hours=h) <= 8), 336)  # fmt: skip
    first = t0.astimezone(CITY_TZ).replace(minute=0, second=0, microsecond=0)
    first += timedelta(hours=(-first.hour) % step) if step <= 24 else timedelta(0)
    moment = first if first >= t0 else first + timedelta(hours=step)
    while moment <= t1:
        local = moment.astimezone(CITY_TZ)
        label = (
            local.strftime("%m-%d") if local.hour == 0 or step >= 24 else local.strftime("%H:%M")
        )
        chart.x_ticks.append(Tick(x(moment), label))
        moment += timedelta(hours=step)
    for band in bands:
        if len(band.points) < 2:
            continue
        upper = [f"{x(t)},{y(h)}" for t, _, h in band.points]
        lower = [f"{x(t)},{y(low)}" for t, low, _ in reversed(band.points)]
        chart.bands.append((band.cls, " ".join(upper + lower), band.label))
        chart.legend.append(LegendEntry(band.cls, band.label))
    for s in series:
        if not s.points:
            continue
        chart.paths.append((s.cls, "M" + " L".join(f"{x(t)},{y(v)}" for t, v in s.points)))
        chart.legend.append(LegendEntry(s.cls, s.label))
    for value, label in thresholds:
        chart.lines.append(Line(y(value), f"{label} {fmt(value)}"))
    if thresholds:
        chart.legend.append(LegendEntry("threshold", "Threshold"))
    for t, v, text in marks:
        chart.marks.append(Mark(x(t), y(v), text))
    if marks:
        chart.legend.append(LegendEntry("alarm-mark", mark_label))
    last = next((s for s in series if s.points), None)
    if last is not None:
        vals = [v for _, v in last.points]
        chart.summary = (f"{fmt(min(vals))} – {fmt(max(vals))}, "
                         f"{last.points[-1][0].astimezone(CITY_TZ):%m-%d %H:%M} "
                         f"{fmt(last.points[-1][1])}")  # fmt: skip
    return chart


# --- bars per day, stacked by kind --------------------------------------------------------------


def stacked_days(
    title: str,
    days: list[str],
    counts: dict[str, dict[str, int]],
    names: dict[str, str],
    *,
    y_label: str = "",
    width: int = 640,
    height: int = 220,
    most_kinds: int = PALETTE - 1,
) -> Chart | None:
    """One bar a day (``days`` as YYYY-MM-DD, oldest first), stacked by kind (``counts[day][kind]``),
    the largest kinds each a colour and the rest as "Other"; each day's total written above
    its bar when there is room. None when every day is empty."""
    totals = {k: sum(c.get(k, 0) for c in counts.values()) for c in counts.values() for k in c}
    if not totals or not any(totals.values()):
        return None
    kinds = sorted(totals, key=lambda k: -totals[k])
    shown, rest = kinds[:most_kinds], set(kinds[most_kinds:])
    top = max(sum(counts.get(d, {}).values()) for d in days)
    ticks = nice_ticks(0, top)
    chart = Chart(width, height, 40, 16, width - 40 - 8, height - 16 - 34, title,
                  y_label=y_label)  # fmt: skip
    slot = chart.plot_w / max(len(days), 1)
    bar_w = max(2.0, slot * 0.75)
    scale = chart.plot_h / ticks[-1]
    chart.y_ticks = [Tick(round(chart.bottom - v * scale, 1), fmt(v)) for v in ticks]
    every = max(1, math.ceil(len(days) / 10))
    for i, day in enumerate(days):
        cx = chart.left + i * slot + (slot - bar_w) / 2
        if i % every == 0:
            chart.x_ticks.append(Tick(round(cx + bar_w / 2, 1), day[5:]))
        base = float(chart.bottom)
        day_counts = counts.get(day, {})
        parts = [(k, day_counts.get(k, 0), f"series-{n}") for n, k in enumerate(shown)]
        parts.append(("", sum(day_counts.get(k, 0) for k in rest), "series-other"))
        for kind, n, cls in parts:
            if not n:
                continue
            h = n * scale
            base -= h
            name = names.get(kind, kind) if kind else "…"
            chart.bars.append(Bar(round(cx, 1), round(base, 1), round(bar_w, 1), round(h, 1), cls,
                                  f"{day} {name} {n}"))  # fmt: skip
        total = sum(day_counts.values())
        if total and slot >= 14:
            chart.bars.append(Bar(round(cx + bar_w / 2, 1), round(base - 3, 1), 0, 0, "total",
                                  f"{day} {total}", value=str(total)))  # fmt: skip
    chart.legend = [LegendEntry(f"series-{n}", names.get(k, k), False)
                    for n, k in enumerate(shown)]  # fmt: skip
    if rest:
        chart.legend.append(LegendEntry("series-other", "Other kinds"))
    chart.summary = f"{days[0]} – {days[-1]}: {sum(totals.values())}"
    return chart


# --- horizontal bars with their values ----------------------------------------------------------


def ranked_bars(
    title: str,
    rows: list[tuple[str, float, str]],
    *,
    value_format: str = "{:g}",
    cls: str = "series-0",
    width: int = 560,
    bar_h: int = 18,
) -> Chart | None:
    """One horizontal bar per (name, value, link), largest first, its value at its end."""
    if not rows:
        return None
    rows = sorted(rows, key=lambda r: -r[1])
    top = max(v for _, v, _ in rows) or 1
    ticks = nice_ticks(0, top, 4)
    left = 96
    chart = Chart(width, len(rows) * (bar_h + 4) + 30, left, 4, width - left - 56,
                  len(rows) * (bar_h + 4), title)  # fmt: skip
    scale = chart.plot_w / ticks[-1]
    chart.x_ticks = [Tick(round(left + v * scale, 1), fmt(v)) for v in ticks]
    for i, (name, value, link) in enumerate(rows):
        y = chart.top + i * (bar_h + 4)
        chart.bars.append(Bar(left, y, round(value * scale, 1), bar_h, cls, f"{name} {value:g}",
                              value=value_format.format(value), label=name, link=link))  # fmt: skip
    return chart


def local_days(end: datetime, n: int) -> list[str]:
    """The ``n`` city days up to the one of ``end``, as YYYY-MM-DD, oldest first."""
    last = end.astimezone(CITY_TZ).date()
    return [(last - timedelta(days=n - 1 - i)).isoformat() for i in range(n)]


def group_days(rows: list[tuple[str, str, int]]) -> dict[str, dict[str, int]]:
    """(day, kind, n) rows as ``{day: {kind: n}}``."""
    out: dict[str, dict[str, int]] = {}
    for day, kind, n in rows:
        out.setdefault(day, {})[kind] = out.get(day, {}).get(kind, 0) + n
    return out


add_translations("zh", {
    "Threshold": "阈值", "Other kinds": "其他类别", "Readings": "读数",
    "Expected band (80%)": "预期区间（80%）", "Next hour (80%)": "未来一小时（80%）",
    "Forecast": "预测", "Cases per day by kind (last 30 days)": "近30天每日受理工单（按大类）",
    "Number of cases": "工单数",
})  # fmt: skip
