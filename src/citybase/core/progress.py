"""Progress of long work: how much is done, of how much, what is being done, how long remains.

Long work — building the demo, loading a file of rows, rebuilding the search index, training a
model, exporting — takes a ``Report`` and calls it as it goes: ``report(done, total, what)``.
Whoever started the work decides where it shows: the terminal draws a bar with the time
remaining (``terminal``), a stored job keeps it on its row so that a page shows a progress line
(``citybase.core.bus``), and work nobody watches is given ``silent``.

``Stages`` turns named steps of known relative cost (measured once, kept beside the steps) into
one advancing figure, so that the time remaining is estimated from the work, not the step count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console

Report = Callable[[float, float, str], None]
FINISHED = "Finished"  # what work says when all of it is done


def silent(done: float, total: float, what: str) -> None:
    """The report of work nobody watches."""


def remaining(elapsed: float, done: float, total: float) -> float | None:
    """Seconds left at the pace so far; None until some of the work is done (no pace yet)."""
    if done <= 0 or total <= 0 or elapsed <= 0:
        return None
    return max(elapsed * (total - min(done, total)) / done, 0.0)


@dataclass
class Stages:
    """Steps of known relative weight, reported as one figure: ``start(name)`` says a step
    began (everything before it is done); ``within(fraction)`` moves through the current one."""

    report: Report
    weights: Sequence[tuple[str, float]]
    _at: int = field(default=-1, init=False)
    _labels: dict[str, str] = field(default_factory=dict, init=False)

    @property
    def total(self) -> float:
        return float(sum(w for _, w in self.weights))

    def _before(self, index: int) -> float:
        return float(sum(w for _, w in self.weights[:index]))

    def start(self, name: str, label: str | None = None) -> None:
        names = [n for n, _ in self.weights]
        if name not in names:
            raise KeyError(f"no step {name!r} among {names}")
        self._at = names.index(name)
        self._labels[name] = label or name
        self.report(self._before(self._at), self.total, self._labels[name])

    def within(self, fraction: float, note: str = "") -> None:
        if self._at < 0:
            return
        name, weight = self.weights[self._at]
        done = self._before(self._at) + weight * min(max(fraction, 0.0), 1.0)
        label = self._labels.get(name, name)
        self.report(done, self.total, f"{label} {note}".strip())

    def finish(self) -> None:
        self.report(self.total, self.total, FINISHED)


class Throttled:
    """Pass reports on at most every ``seconds`` (the first and the last always), for a report
    that costs something — a write to a job's row."""

    def __init__(self, report: Report, seconds: float = 0.5) -> None:
        self._report, self._seconds, self._last = report, seconds, -1e9

    def __call__(self, done: float, total: float, what: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= self._seconds:
            self._last = now
            self._report(done, total, what)


@contextmanager
def terminal(out: Console, what: str, total: float | None = None) -> Iterator[Report]:
    """A progress bar on the terminal with the share done and the time remaining; the report
    it yields moves it. Where the output is not a terminal (a log, a pipe, a container's
    output) each new step is one line with the share done instead."""
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if not out.is_terminal:
        said = [""]

        def say(done: float, total: float, step: str) -> None:
            if step and step != said[0]:
                said[0] = step
                share = f"{done / total:4.0%}" if total else "   …"
                out.print(f"[{share}] {step}", highlight=False)

        yield say
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TaskProgressColumn(), TimeElapsedColumn(), TextColumn("remaining"),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=out, transient=True) as bar:
        task = bar.add_task(what, total=total)

        def report(done: float, total: float, step: str) -> None:
            bar.update(task, completed=done, total=total, description=step or what)

        yield report


def duration(seconds: float, lang: str) -> str:
    """``75`` → "1 分 15 秒" / "1 min 15 s": how a progress line says a time."""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("小时", "分", "秒") if lang == "zh" else ("h", "min", "s")
    parts = [(hours, units[0]), (minutes, units[1]), (secs, units[2])]
    shown = [f"{n} {u}" for n, u in parts if n] or [f"0 {units[2]}"]
    return " ".join(shown[:2])


def line(
    _: Callable[..., str],
    lang: str,
    status: str,
    what: str,
    share: float | None,
    elapsed: float,
    left: float | None,
    error: str = "",
) -> str:
    """One line saying how far stored work got, in the page's language (``_`` translates)."""
    if status == "pending":
        return _("Waiting for the background worker to take it up")
    if status == "done":
        return _("Done in {elapsed}", elapsed=duration(elapsed, lang))
    if status == "failed":
        return _("Failed: {error}", error=error)
    parts = [_(what) if what else _("Starting")]
    if share is not None:
        parts.append(f"{share * 100:.0f}%")
    parts.append(_("{elapsed} so far", elapsed=duration(elapsed, lang)))
    if left is not None:
        parts.append(_("about {left} left", left=duration(left, lang)))
    return " · ".join(parts)
