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

SQUARE, GAP, SLOT_MIN, TIMELINE_W, AXIS_H = 8, 2, 34, 640, 30


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


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    axis_y: float
    slots: list[tuple[float, float, str]]  # x, width, label
    tasks: list[TimelineTask]
    today_x: float | None


def _quarter(day: date | None) -> tuple[int, int]:
    return (9999, 0) if day is None else (day.year, (day.month - 1) // 3 + 1)


def timeline(tasks: list[TaskRead], today: date) -> Timeline | None:
    """Each task a square in the column of the quarter it is due in (the squares of one
    quarter stack upwards), coloured by its state; a line where today falls."""
    if not tasks:
        return None
    quarters = sorted({_quarter(t.due) for t in tasks})
    slot = max(SLOT_MIN, (TIMELINE_W - 8) / len(quarters))
    width = int(max(TIMELINE_W, slot * len(quarters) + 8))
    per_row = max(1, int((slot - 6) // (SQUARE + GAP)))
    by_quarter: dict[tuple[int, int], list[TaskRead]] = {}
    for t in sorted(tasks, key=lambda t: (t.due or date.max, t.number)):
        by_quarter.setdefault(_quarter(t.due), []).append(t)
    rows = max(-(-len(ts) // per_row) for ts in by_quarter.values())
    height = int(rows * (SQUARE + GAP) + AXIS_H + 8)
    axis_y = height - AXIS_H
    placed: list[TimelineTask] = []
    slots: list[tuple[float, float, str]] = []
    today_x = None
    for n, q in enumerate(quarters):
        x0 = 4 + n * slot
        label = "—" if q[0] == 9999 else f"{q[0]}Q{q[1]}"
        slots.append((round(x0, 1), round(slot, 1), label))
        if q == _quarter(today):
            today_x = round(x0 + slot / 2, 1)
        elif today_x is None and q > _quarter(today):
            today_x = round(x0 - 1, 1)
        for k, t in enumerate(by_quarter[q]):
            col, row = k % per_row, k // per_row
            x = x0 + 3 + col * (SQUARE + GAP)
            y = axis_y - (row + 1) * (SQUARE + GAP)
            placed.append(TimelineTask(round(x, 1), round(y, 1), task_state(t), t))
    return Timeline(width, height, axis_y, slots, placed, today_x)


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
