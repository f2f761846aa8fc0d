"""The cockpit's small charts, drawn by the server as SVG coordinates for the templates (no
script, nothing fetched, the same on paper): each indicator's sparkline, each plan's tasks on
a timeline by deadline, and the units' scores as bars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from citybase.cockpit.indicators.schemas import Progress
from citybase.cockpit.indicators.service import period_time
from citybase.cockpit.tasks.schemas import TaskRead, TaskStatus

# --- one indicator in a table row ---------------------------------------------------------------

SPARK_W, SPARK_H, SPARK_PAD = 120, 26, 3


@dataclass(frozen=True)
class Sparkline:
    """The path from baseline through the targets, the approved values, and the last of them."""

    width: int
    height: int
    path: str
    values: str
    last: tuple[float, float] | None
    target: tuple[float, float]


def sparkline(p: Progress) -> Sparkline:
    ind = p.indicator
    path = sorted((float(y), float(v)) for y, v in ind.targets.items())
    if ind.baseline_year is not None and ind.baseline_value is not None:
        path.insert(0, (float(ind.baseline_year), ind.baseline_value))
    values = [(period_time(v.period), v.value) for v in p.series]
    points = path + values
    t0 = min(t for t, _ in points)
    t1 = max(t for t, _ in points)
    if t0 == t1:
        t0 -= 1
    lo = min(v for _, v in points)
    hi = max(v for _, v in points)
    if lo == hi:
        lo, hi = lo - 1, hi + 1

    def at(t: float, v: float) -> tuple[float, float]:
        x = SPARK_PAD + (t - t0) / (t1 - t0) * (SPARK_W - 2 * SPARK_PAD)
        y = SPARK_H - SPARK_PAD - (v - lo) / (hi - lo) * (SPARK_H - 2 * SPARK_PAD)
        return round(x, 1), round(y, 1)

    def line(pts: list[tuple[float, float]]) -> str:
        return " ".join("{},{}".format(*at(t, v)) for t, v in pts)

    return Sparkline(
        width=SPARK_W, height=SPARK_H, path=line(path), values=line(values),
        last=at(*values[-1]) if values else None, target=at(*path[-1]),
    )  # fmt: skip


# --- a plan's tasks by deadline ---------------------------------------------------------------

SQUARE, GAP, TIMELINE_W, AXIS_H, MAX_ROWS, LEFT = 8, 2, 640, 30, 16, 6


def task_state(task: TaskRead) -> str:
    """done, overdue, suspended, in_progress or not_started: what the timeline colours."""
    if task.status == TaskStatus.done:
        return "done"
    if task.overdue:
        return "overdue"
    return task.status.value


@dataclass(frozen=True)
class TimelineTask:
    x: float
    y: float
    state: str
    task: TaskRead
    undated: bool


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    axis_y: float
    years: list[tuple[float, str]]  # x, label
    quarters: list[float]
    tasks: list[TimelineTask]
    today_x: float


def _quarter_index(day: date, first_year: int) -> int:
    return (day.year - first_year) * 4 + (day.month - 1) // 3


def timeline(
    tasks: list[TaskRead], today: date, first_year: int, last_year: int
) -> Timeline | None:
    """The plan's period (stretched to today and to the latest deadline) as a time axis by
    quarter; each task a square in the column of the quarter it is due in, the squares of one
    quarter stacked upwards (a crowded quarter's column widens), coloured by the task's state;
    a task with no deadline stands at the plan's end. A line marks today."""
    if not tasks:
        return None
    plan_end = date(last_year, 12, 31)
    due = {t.id: t.due or plan_end for t in tasks}
    last = max([plan_end, today, *due.values()])
    quarters = _quarter_index(last, first_year) + 1
    plot = TIMELINE_W - 2 * LEFT
    slot = plot / quarters
    by_quarter: dict[int, list[TaskRead]] = {}
    for t in sorted(tasks, key=lambda t: (due[t.id], t.number)):
        by_quarter.setdefault(_quarter_index(due[t.id], first_year), []).append(t)
    crowd = max(len(ts) for ts in by_quarter.values())
    per_row = max(1, int((slot - 2) // (SQUARE + GAP)), -(-crowd // MAX_ROWS))
    rows = -(-crowd // per_row)
    height = int(rows * (SQUARE + GAP) + AXIS_H + 10)
    axis_y = height - AXIS_H
    placed: list[TimelineTask] = []
    for q, ts in by_quarter.items():
        width = per_row * (SQUARE + GAP)
        x0 = min(max(LEFT + q * slot + max(0.0, (slot - width) / 2), LEFT), LEFT + plot - width)
        for k, t in enumerate(ts):
            x = x0 + (k % per_row) * (SQUARE + GAP)
            y = axis_y - (k // per_row + 1) * (SQUARE + GAP)
            placed.append(TimelineTask(round(x, 1), round(y, 1), task_state(t), t, t.due is None))
    years = [(round(LEFT + (y - first_year) * 4 * slot, 1), str(y))
             for y in range(first_year, last.year + 1)]  # fmt: skip
    fraction = (today.timetuple().tm_yday - 1) / 366
    today_x = LEFT + (today.year - first_year + fraction) * 4 * slot
    return Timeline(
        width=TIMELINE_W, height=height, axis_y=axis_y, years=years,
        quarters=[round(LEFT + n * slot, 1) for n in range(quarters + 1)], tasks=placed,
        today_x=round(today_x, 1),
    )  # fmt: skip


# --- units' scores ----------------------------------------------------------------------------

BAR_LABEL_W, BAR_W, BAR_H = 220, 360, 20


@dataclass(frozen=True)
class Bar:
    y: float
    width: float
    label: str
    value: float | None
    tone: str


@dataclass(frozen=True)
class Bars:
    width: int
    height: int
    label_width: int
    bars: list[Bar]


def tone(score: float | None) -> str:
    if score is None:
        return "none"
    return "green" if score >= 85 else "yellow" if score >= 60 else "red"


def bars(rows: list[tuple[str, float | None]], full: float = 100.0) -> Bars:
    """One horizontal bar per row (label, score out of ``full``), in the order given."""
    out = [
        Bar(y=n * BAR_H, width=round(max(0.0, min(score or 0.0, full)) / full * BAR_W, 1),
            label=label, value=score, tone=tone(score))
        for n, (label, score) in enumerate(rows)
    ]  # fmt: skip
    return Bars(BAR_LABEL_W + BAR_W + 50, max(BAR_H, len(out) * BAR_H) + 4, BAR_LABEL_W, out)
