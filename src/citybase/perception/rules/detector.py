"""A streaming anomaly detector for one series: each reading in, a score in [0, 1] out, with no
training set and no idea beforehand of the series' scale, period or units. Standard library
only, so that scoring a file imports nothing of the platform.

How it judges — our own combination of what the best detectors on the Numenta Anomaly
Benchmark share (contextual anomaly detection's novel contexts, adaptive resonance's novel
window shapes, sequence memory's learned transitions, and a suppression of repeated alarms):

1. **Novel context.** Each reading is put in a bin of a coarse grid over the values (a few
   bins across the range seen while warming up; when the values spread past twice that range
   every bin is doubled, so the grid follows the series without being reset). The last
   ``depth`` bins are the reading's context: the reading's own bin, then it with the one
   before, and so on. The series' memory counts each context seen; the share of the reading's
   contexts never seen before is its novelty — 1 for a value in a bin never visited, less for
   a known value after an unknown run of values, 0 for a path taken before. Two grids, the
   second shifted by half a bin, so that a value near a bin's edge does not look new by
   accident, are averaged.
2. **Novel rhythm.** The same, one scale up: the mean of each ``block`` readings in turn is put
   on two grids of its own, whose contexts span ``depth`` blocks. A reading that ends a block
   whose mean took a path never seen before is as novel as that path — a missing or extra
   cycle, a change of rhythm or of variance that keeps every single reading within known
   levels (the novelty of a reading is the larger of the two scales'). Blocks are counted from
   the end of the warm-up, and this scale judges only once it has learnt ``block_warmup``
   blocks past it (before that its contexts are all new).
3. **Surprise of the level.** How many standard deviations the reading lies from the
   exponentially weighted mean and variance of the readings before it (forgetting at
   ``rate``), a tenth of that, at most 1. It ranks the novel readings: a bin first visited a
   little above the old maximum scores less than one far beyond it.
4. **Off its cycle.** Given times, the usual value of each hour of the day and of each hour
   of the week is learnt (``_Cycle``). Once a cycle explains the series — the readings vary
   about it at most ``cycle_share`` as much as about a flat level; the week is preferred when
   it explains clearly more than the day — each hour of the clock, as it ends, is set against
   it: when that hour's mean stood ``cycle_z`` or more of its usual spreads away from the
   usual for its hour — or the hours' such deviations, weighted a sixth to each new one, stood
   ``cycle_run`` or more of the spreads of such a weighted mean off (a run of hours) — the next
   reading is as novel as a new value. A weekday run like a Sunday, a rush hour that did not
   come, a holiday: every reading within known levels and paths, the hours as a whole off
   their cycle.
5. **Score.** ``(1 - blend) × novelty + blend × surprise``. Once a score reaches ``calm``, the
   readings of the next ``rest_hours`` (or, given no times, the next ``rest`` readings) score
   0: one alarm for one episode, not one per reading while a level shift settles.

The first ``warmup`` readings only teach it (score 0). Missing readings (None, NaN, infinite)
score 0 and teach nothing. The memory is bounded: past ``max_contexts`` contexts, those seen once are
forgotten. ``state()`` gives everything it knows as JSON-ready data and ``Detector.from_state``
takes it back, so a series' detector outlives the process that ran it. ``explain()`` says
why the last reading scored as it did; for that it also keeps the mean step between readings
over the last few and over many (a change of variance), which the score does not use."""

from __future__ import annotations

import math
from datetime import datetime
from itertools import pairwise
from typing import Any

STATE_VERSION = 3  # versions 1 (no coarse scale) and 2 (no cycles) are still read
DAY, WEEK = 86_400.0, 604_800.0
ADJECTIVE = {"day": "daily", "week": "weekly"}
RUN_SD = math.sqrt(1 / 11)  # of a weighted mean, a sixth to each new one, of independent z's


class _Grid:
    """One coarse grid over the values and the contexts seen on it.

    Every suffix of a context seen is itself seen, so the novel share is found from the
    longest context down, stopping at the first one known: a path taken before costs one
    look-up. Full-length contexts are counted (the rarest are forgotten first); shorter ones
    are only known, and few: the values never span more than twice the grid's bins, so there
    are at most about (2 × bins + 2) to the power depth - 1 of them."""

    __slots__ = ("bins", "depth", "full", "hi", "known", "last", "lo", "origin", "shift", "width")

    def __init__(self, bins: int, shift: float, depth: int) -> None:
        self.bins, self.shift, self.depth = bins, shift, depth
        self.width = 0.0
        self.origin = 0.0
        self.lo, self.hi = math.inf, -math.inf
        self.last: tuple[int, ...] = ()  # the bins of the readings before, oldest first
        self.full: dict[tuple[int, ...], int] = {}
        self.known: set[tuple[int, ...]] = set()

    def start(self, values: list[float]) -> None:
        spread = max(values) - min(values)
        first = values[0]
        self.width = spread / self.bins if spread > 0 else max(abs(first) * 1e-3, 1e-9)
        self.origin = first - self.shift * self.width

    def _coarsen(self) -> None:
        """Double the bins (bin b becomes b // 2: the origin stays where it is)."""
        self.width *= 2
        merged: dict[tuple[int, ...], int] = {}
        for key, count in self.full.items():
            halved = tuple(b >> 1 for b in key)
            merged[halved] = merged.get(halved, 0) + count
        self.full = merged
        self.known = {tuple(b >> 1 for b in key) for key in self.known}
        self.last = tuple(b >> 1 for b in self.last)

    def learn(self, value: float) -> float:
        """The share of this reading's contexts never seen before; then they are seen."""
        if value < self.lo or value > self.hi:
            self.lo, self.hi = min(self.lo, value), max(self.hi, value)
            while self.hi - self.lo > 2 * self.bins * self.width:
                self._coarsen()
        context = (*self.last, math.floor((value - self.origin) / self.width))
        novel = start = 0
        if len(context) == self.depth:
            self.last = context[1:]
            count = self.full.get(context)
            if count is not None:
                self.full[context] = count + 1
                return 0.0
            self.full[context] = 1
            novel = start = 1
        else:
            self.last = context
        known = self.known
        for k in range(start, len(context)):
            key = context[k:]
            if key in known:
                break
            known.add(key)
            novel += 1
        return novel / self.depth

    def forget(self, keep: int) -> None:
        """Forget the contexts seen once (the rarest), and more if that is not enough."""
        at_least = 2
        while len(self.full) > keep:
            self.full = {k: c for k, c in self.full.items() if c >= at_least}
            at_least *= 2

    def state(self) -> dict[str, Any]:
        return {"bins": self.bins, "shift": self.shift, "depth": self.depth, "width": self.width,
                "origin": self.origin, "last": list(self.last),
                # no range before the first reading: stored as null (JSON has no infinity)
                "lo": self.lo if math.isfinite(self.lo) else None,
                "hi": self.hi if math.isfinite(self.hi) else None,
                "full": [[*k, c] for k, c in self.full.items()],
                "known": [list(k) for k in self.known]}  # fmt: skip

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> _Grid:
        grid = cls(int(data["bins"]), float(data["shift"]), int(data["depth"]))
        grid.width, grid.origin = float(data["width"]), float(data["origin"])
        lo, hi = data["lo"], data["hi"]
        grid.lo = math.inf if lo is None else float(lo)
        grid.hi = -math.inf if hi is None else float(hi)
        grid.last = tuple(int(b) for b in data["last"])
        grid.full = {tuple(int(b) for b in row[:-1]): int(row[-1]) for row in data["full"]}
        grid.known = {tuple(int(b) for b in row) for row in data["known"]}
        return grid


class _Cycle:
    """The usual value at each hour of a day or of a week (a cycle, 周期), and how far the
    readings — one by one, and each hour as a whole — stray from it.

    Each hour of the cycle keeps an exponentially weighted mean of its readings (a fifth of the
    way to each new one). The residual of a reading is it less the usual value of its hour, once
    that hour has been seen in an earlier cycle. The residuals have an exponentially weighted
    variance, beside that of the readings about a slow flat mean: the cycle is learnt when its
    residuals vary at most ``share`` as much as the flat ones. When an hour of the clock ends,
    the mean of its residuals is set against the usual size of an hour's mean residual
    (``hour_z``, on the first reading after it): a whole hour off its cycle — a rush hour that
    did not come, a weekday run like a Sunday — stands out where no single reading does. Needs
    times: readings without them teach it nothing."""

    __slots__ = (
        "flat",
        "flat_var",
        "hour",
        "hour_mean",
        "hour_n",
        "hour_sum",
        "hour_var",
        "hour_z",
        "hours",
        "last_expected",
        "mean",
        "period",
        "res_var",
        "run",
        "seen",
        "slots",
    )  # fmt: skip

    def __init__(self, period: float) -> None:
        self.period = period
        self.slots = round(period / 3600)
        self.mean: list[float] = [0.0] * self.slots
        self.seen: list[int] = [-1] * self.slots  # per hour of the cycle: when first seen
        self.flat = math.nan
        self.flat_var = self.res_var = 0.0
        self.last_expected = math.nan  # the usual value of the last reading's hour
        self.hour, self.hour_sum, self.hour_n, self.hour_var = -1, 0.0, 0, 0.0
        self.hours = 0  # hours whose mean residual was learnt
        # the hours' z weighted, a sixth to each new one: a run of hours all off the same way
        self.run = 0.0
        self.hour_z = 0.0  # of the hour just ended, on the first reading after it
        self.hour_mean = 0.0  # its mean residual

    def learn(self, hour: int, value: float, rate: float) -> None:
        """Learn a reading of ``hour`` (hours since the epoch); ``rate``: how fast the
        variances forget."""
        if hour != self.hour:
            self.hour_z = 0.0
            if self.hour_n:
                mean = self.hour_mean = self.hour_sum / self.hour_n
                if self.hours >= 24 and self.hour_var > 0:  # a day of hours, bias corrected
                    self.hour_z = mean / math.sqrt(self.hour_var / (1 - 0.95**self.hours))
                    self.run += (self.hour_z - self.run) / 6
                self.hour_var += 0.05 * (mean * mean - self.hour_var)
                self.hours += 1
            elif self.hour < 0:
                self.flat = value
            self.hour, self.hour_sum, self.hour_n = hour, 0.0, 0
        elif self.hour_z:
            self.hour_z = 0.0  # said once, on the first reading after its hour
        slot = hour % self.slots
        first = self.seen[slot]
        if first < 0:
            self.mean[slot] = value
            self.seen[slot] = hour
            self.last_expected = math.nan
        elif first == hour:  # still the visit in which it was first seen
            self.mean[slot] += 0.2 * (value - self.mean[slot])
            self.last_expected = math.nan
        else:
            usual = self.last_expected = self.mean[slot]
            residual = value - usual
            self.res_var += rate * (residual * residual - self.res_var)
            self.hour_sum += residual
            self.hour_n += 1
            deviation = value - self.flat
            self.flat_var += rate * (deviation * deviation - self.flat_var)
            self.mean[slot] = usual + 0.2 * residual
        self.flat += rate * (value - self.flat)

    def learnt(self, share: float) -> bool:
        return 0 < self.res_var <= share * self.flat_var

    def state(self) -> dict[str, Any]:
        return {"period": self.period, "mean": list(self.mean), "seen": list(self.seen),
                "flat": None if math.isnan(self.flat) else self.flat,
                "flat_var": self.flat_var, "res_var": self.res_var, "hour": self.hour,
                "hour_sum": self.hour_sum, "hour_n": self.hour_n,
                "hour_var": self.hour_var, "hours": self.hours, "run": self.run}  # fmt: skip

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> _Cycle:
        cycle = cls(float(data["period"]))
        mean, seen = [float(v) for v in data["mean"]], [int(v) for v in data["seen"]]
        if len(mean) != cycle.slots or len(seen) != cycle.slots:
            raise ValueError("a cycle's state has one mean and one first visit an hour")
        cycle.mean, cycle.seen = mean, seen
        cycle.flat = math.nan if data["flat"] is None else float(data["flat"])
        cycle.flat_var, cycle.res_var = float(data["flat_var"]), float(data["res_var"])
        cycle.hour, cycle.hour_sum = int(data["hour"]), float(data["hour_sum"])
        cycle.hour_n, cycle.hour_var = int(data["hour_n"]), float(data["hour_var"])
        cycle.hours, cycle.run = int(data["hours"]), float(data["run"])
        return cycle


class Detector:
    """``update(timestamp, value) -> score`` in [0, 1], one reading at a time, in order."""

    def __init__(
        self,
        *,
        warmup: int = 150,
        bins: int = 5,
        depth: int = 4,
        blend: float = 0.3,
        rate: float = 0.01,
        calm: float = 0.6,
        rest: int = 100,
        rest_hours: float = 12.0,
        max_contexts: int = 50_000,
        block: int = 16,
        block_warmup: int = 50,
        cycle_z: float = 12.0,
        cycle_share: float = 0.5,
        cycle_run: float = 6.0,
    ) -> None:
        if cycle_z <= 0 or cycle_run <= 0 or not 0 < cycle_share <= 1:
            raise ValueError("cycle_z and cycle_run above 0, cycle_share in (0, 1]")
        if warmup < 2 or bins < 1 or depth < 1 or rest < 0 or max_contexts < 1:
            raise ValueError("warmup ≥ 2, bins ≥ 1, depth ≥ 1, rest ≥ 0, max_contexts ≥ 1")
        if not 2 <= block <= warmup // 2:
            raise ValueError("block between 2 and half the warm-up")
        if not 0 <= blend <= 1 or not 0 < rate < 1 or rest_hours < 0:
            raise ValueError("blend in [0, 1], rate in (0, 1), rest_hours ≥ 0")
        self.warmup, self.bins, self.depth, self.blend = warmup, bins, depth, blend
        self.rate, self.calm, self.rest, self.max_contexts = rate, calm, rest, max_contexts
        self.seen = 0  # readings learnt from
        self.rest_s = rest_hours * 3600
        self.quiet = 0  # readings still to be kept quiet after an alarm (no times given)
        self.quiet_until = -math.inf  # the time until which it is kept quiet (times given)
        self.mean = 0.0
        self.var = 0.0
        self.warming: list[float] = []
        self._value = math.nan  # the last reading scored, for explain()
        self._beyond_at = 0  # the last reading outside the range of those before it
        self.grids = [_Grid(bins, 0.0, depth), _Grid(bins, 0.5, depth)]
        self.block, self.block_warmup = block, block_warmup
        self.blocks = 0  # blocks' means learnt from
        self.coarse = [_Grid(bins, 0.0, depth), _Grid(bins, 0.5, depth)]  # of the blocks' means
        self.block_sum = 0.0  # of the readings of the block under way
        self.block_len = 0
        self._fine = self._rhythm = 0.0  # the last reading's novelty on each scale, for explain()
        self._block_mean = math.nan  # the mean of the last block, for explain()
        # the mean step from one reading to the next, over about 16 readings and over about
        # 4 / rate: their ratio tells a change of variance in explain()
        self.previous = math.nan
        self.steps = [0.0, 0.0]
        # the usual day and week, when readings come with times
        self.cycle_z, self.cycle_share = cycle_z, cycle_share
        self.cycle_run = cycle_run
        self.cycles = [_Cycle(DAY), _Cycle(WEEK)]
        self._cycle: _Cycle | None = None  # the cycle that judged the last reading
        self._off_cycle = 0.0  # the last reading's novelty for its cycle, for explain()

    @property
    def warm(self) -> bool:
        """Whether it has learnt enough to score (before that every score is 0)."""
        return self.seen >= self.warmup

    def update(self, timestamp: datetime | float | None, value: float | None) -> float:
        """The score of this reading. ``timestamp``: a datetime or seconds since the epoch (the
        rest after an alarm is then ``rest_hours`` long), or None (then ``rest`` readings);
        readings come in order."""
        if value is None:
            return 0.0
        value = float(value)
        if not math.isfinite(value):
            return 0.0
        self.seen += 1
        at = None
        if timestamp is not None:
            at = timestamp.timestamp() if isinstance(timestamp, datetime) else float(timestamp)
            hour, slow = int(at // 3600), self.rate / 10
            day, week = self.cycles
            day.learn(hour, value, slow)
            week.learn(hour, value, slow)
        if self.seen <= self.warmup:
            self.warming.append(value)
            if self.seen == self.warmup:
                self._start()
            return 0.0
        a, b = self.grids
        self._value = value  # for explain()
        if value > a.hi or value < a.lo:
            self._beyond_at = self.seen
        step, steps = abs(value - self.previous), self.steps
        self.previous = value
        steps[0] += (step - steps[0]) / 16
        steps[1] += self.rate / 4 * (step - steps[1])
        novelty = self._fine = (a.learn(value) + b.learn(value)) / 2
        self._rhythm = 0.0
        self.block_sum += value
        self.block_len += 1
        if self.block_len == self.block:
            mean = self.block_sum / self.block
            self.block_sum, self.block_len = 0.0, 0
            c, d = self.coarse
            rhythm = (c.learn(mean) + d.learn(mean)) / 2
            self.blocks += 1
            if self.blocks > self.block_warmup:
                self._rhythm, self._block_mean = rhythm, mean
                novelty = max(novelty, rhythm)
        self._off_cycle, self._cycle = 0.0, None
        if at is not None:
            cycle = self._judging_cycle()
            if cycle is not None:
                self._cycle = cycle
                z = abs(cycle.hour_z)
                # an hour off its cycle, or a run of hours, is as novel as a new value
                if z >= self.cycle_z or (z and abs(cycle.run) / RUN_SD >= self.cycle_run):
                    self._off_cycle = novelty = 1.0
        deviation = value - self.mean
        surprise = min(1.0, abs(deviation) / math.sqrt(self.var) / 10) if self.var > 0 else 0.0
        self.mean += self.rate * deviation
        self.var += self.rate * ((value - self.mean) ** 2 - self.var)
        if self.seen % 1024 == 0:
            for grid in (*self.grids, *self.coarse):
                if len(grid.full) > self.max_contexts:
                    grid.forget(self.max_contexts // 2)
        score = (1 - self.blend) * novelty + self.blend * surprise
        if at is None:
            if self.quiet:
                self.quiet -= 1
                return 0.0
            if score >= self.calm:
                self.quiet = self.rest
            return score
        if at < self.quiet_until:
            return 0.0
        if score >= self.calm:
            self.quiet_until = at + self.rest_s
        return score

    def _judging_cycle(self) -> _Cycle | None:
        """The week when it explains the series clearly better than the day, else the day,
        when learnt; None when neither is."""
        day, week = self.cycles
        if week.learnt(self.cycle_share) and week.res_var <= 0.8 * day.res_var:
            return week
        return day if day.learnt(self.cycle_share) else None

    def explain(self) -> str:
        """Why the last reading scored as it did, in words: the range expected of it, the value
        seen, and the pattern — above or below every reading before (a spike or the start of
        a level shift), the last ``block`` readings' mean taking a course never seen (a missing
        or extra cycle, a change of rhythm), far from the recent level (a level shift), or a
        known level reached in an order never seen (a change of shape or variance)."""
        if self.seen <= self.warmup:
            return "still learning the series" if self.seen else "no reading yet"
        value = self._value
        # the mean and variance before this reading (each update undone)
        keep = 1 - self.rate
        mean = (self.mean - self.rate * value) / keep
        var = max((self.var - self.rate * (value - self.mean) ** 2) / keep, 0.0)
        spread = 3 * math.sqrt(var)
        beyond = 0
        if self._beyond_at == self.seen:
            beyond = 1 if value >= self.grids[0].hi else -1
        expected = f"expected {mean - spread:.4g} to {mean + spread:.4g}, saw {value:.4g}"
        cycle = self._cycle
        if beyond == 0 and cycle is not None and self._off_cycle > 0 \
                and self._off_cycle >= max(self._fine, self._rhythm):  # fmt: skip
            name = "week" if cycle.period == WEEK else "day"
            if math.isfinite(cycle.last_expected):
                usual, spread = cycle.last_expected, 3 * math.sqrt(cycle.res_var)
                expected = (f"expected {usual - spread:.4g} to {usual + spread:.4g} at this hour "
                            f"of the {name}, saw {value:.4g}")  # fmt: skip
            off = cycle.hour_mean
            if abs(cycle.hour_z) < self.cycle_z:  # the run of hours, not the last one alone
                side = "above" if cycle.run > 0 else "below"
                return (f"{expected}; the last hours ran {side} the usual for their hours of the "
                        f"{name}, {abs(cycle.run) / RUN_SD:.3g} times the usual spread of such a "
                        f"run (off its {ADJECTIVE[name]} cycle: a holiday, a missing or shifted cycle)")  # fmt: skip
            return (f"{expected}; the last hour ran {abs(off):.4g} {'above' if off > 0 else 'below'}"
                    f" the usual for its hour of the {name}, {abs(cycle.hour_z):.3g} times the "
                    f"usual spread of an hour (off its {ADJECTIVE[name]} cycle: a missing, shifted or "
                    "extra cycle)")  # fmt: skip
        if beyond > 0:
            pattern = "higher than any reading before (a spike, or a level shift beginning)"
        elif beyond < 0:
            pattern = "lower than any reading before (a drop, or a level shift beginning)"
        elif self._rhythm > 0 and self._rhythm >= self._fine:
            pattern = (f"the mean of the last {self.block} readings ({self._block_mean:.4g}) "
                       "took a course not seen before (a missing or extra cycle, or a change "
                       "of rhythm)")  # fmt: skip
        elif (change := self._steps_change()) is not None:
            pattern = change
        elif abs(value - mean) > spread:
            pattern = "far from the recent level (a level shift)"
        else:
            pattern = "a known level reached in an order not seen before (a change of shape " \
                      "or of variance)"  # fmt: skip
        return f"{expected}; {pattern}"

    def _steps_change(self) -> str | None:
        """Words for a change of variance: the recent steps from reading to reading at least
        twice the usual, or at most half of it; None when neither."""
        recent, usual = self.steps
        if usual <= 0 or not math.isfinite(recent):
            return None
        if recent >= 2 * usual:
            return (f"swinging {recent / usual:.3g} times as much as usual from one reading to "
                    "the next (a change of variance)")  # fmt: skip
        if recent <= usual / 2:
            return (f"steadier than usual, {recent / usual:.2g} of the usual change from one "
                    "reading to the next (a change of variance, or a stuck sensor)")  # fmt: skip
        return None

    def _start(self) -> None:
        values, self.warming = self.warming, []
        self.mean = math.fsum(values) / len(values)
        usual = math.fsum(abs(v - u) for u, v in pairwise(values)) / (len(values) - 1)
        self.steps, self.previous = [usual, usual], values[-1]
        self.var = math.fsum((v - self.mean) ** 2 for v in values) / len(values)
        for grid in self.grids:
            grid.start(values)
            for v in values:
                grid.learn(v)
        k = self.block
        means = [math.fsum(values[i : i + k]) / k for i in range(0, len(values) - k + 1, k)]
        for grid in self.coarse:
            grid.start(means)
            for v in means:
                grid.learn(v)

    def state(self) -> dict[str, Any]:
        """Everything it has learnt, as JSON-ready data (``Detector.from_state`` takes it)."""
        return {
            "version": STATE_VERSION,
            "params": {
                "warmup": self.warmup,
                "bins": self.bins,
                "depth": self.depth,
                "blend": self.blend,
                "rate": self.rate,
                "calm": self.calm,
                "rest": self.rest,
                "rest_hours": self.rest_s / 3600,
                "max_contexts": self.max_contexts,
                "block": self.block,
                "block_warmup": self.block_warmup,
                "cycle_z": self.cycle_z,
                "cycle_share": self.cycle_share,
                "cycle_run": self.cycle_run,
            },
            "seen": self.seen,
            "quiet": self.quiet,
            "quiet_until": self.quiet_until if self.quiet_until > -math.inf else None,
            "mean": self.mean,
            "var": self.var,
            "warming": list(self.warming),
            "grids": [g.state() for g in self.grids],
            "coarse": [g.state() for g in self.coarse],
            "block_sum": self.block_sum,
            "block_len": self.block_len,
            "blocks": self.blocks,
            "previous": self.previous if math.isfinite(self.previous) else None,
            "steps": list(self.steps),
            "cycles": [c.state() for c in self.cycles],
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Detector:
        """A detector that goes on where the one whose ``state()`` this is stopped."""
        if not isinstance(data, dict) or data.get("version") not in (1, 2, STATE_VERSION):
            raise ValueError("not a detector state this version reads")
        detector = cls(**data["params"])
        detector.seen, detector.quiet = int(data["seen"]), int(data["quiet"])
        until = data["quiet_until"]
        detector.quiet_until = -math.inf if until is None else float(until)
        detector.mean, detector.var = float(data["mean"]), float(data["var"])
        detector.warming = [float(v) for v in data["warming"]]
        detector.grids = [_Grid.from_state(g) for g in data["grids"]]
        if len(detector.grids) != 2:
            raise ValueError("a detector state has two grids")
        if data["version"] == 1:  # no coarse scale then: it starts over the range seen so far
            if detector.warm:
                detector.previous = detector.mean
                detector.steps = [math.sqrt(detector.var)] * 2
                grid = detector.grids[0]
                for coarse in detector.coarse:
                    coarse.start([grid.lo, grid.hi])
            return detector
        detector.coarse = [_Grid.from_state(g) for g in data["coarse"]]
        if len(detector.coarse) != 2:
            raise ValueError("a detector state has two coarse grids")
        detector.block_sum, detector.block_len = float(data["block_sum"]), int(data["block_len"])
        detector.blocks = int(data["blocks"])
        previous = data["previous"]
        detector.previous = math.nan if previous is None else float(previous)
        detector.steps = [float(v) for v in data["steps"]]
        if len(detector.steps) != 2:
            raise ValueError("a detector state has two step means")
        if data["version"] >= 3:  # before, no cycles: they are learnt from here on
            detector.cycles = [_Cycle.from_state(c) for c in data["cycles"]]
            if [c.period for c in detector.cycles] != [DAY, WEEK]:
                raise ValueError("a detector state has a day's and a week's cycle")
        return detector
