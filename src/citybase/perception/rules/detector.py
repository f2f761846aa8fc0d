"""A streaming anomaly detector for one series: each reading in, a score in [0, 1] out, with no
training set and no idea beforehand of the series' scale, period or units.

How it judges (two stages, after the manner of Numenta's anomaly likelihood):

1. **Surprise** — how far the reading lies from what the recent past predicts. The prediction is
   an exponentially weighted mean of the readings; the surprise is the absolute error divided by
   the typical error of the last ``window`` readings (their median absolute error, a scale no
   single spike can inflate). A reading as far off as usual scores about 1, a spike ten times
   as far scores about 10.
2. **Likelihood** — how unusual the last few surprises are against the long history of
   surprises: the mean of the last ``short`` against the mean and spread of the last ``long``.
   A Gaussian tail turns that into a score: 0 when recent surprises are as usual, near 1 when
   they are far beyond. One noisy reading moves the short mean a little; a spike, a level shift or
   a change of rhythm moves it a lot, and keeps it up for a few readings.

The first ``probation`` readings only teach it (score 0). Missing readings (None, NaN) score 0
and teach nothing. Costs O(window) a reading; a few microseconds in Python."""

from __future__ import annotations

import bisect
import csv
import io
import math
from collections import deque
from pathlib import Path
from typing import Any

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.tables import iter_csv_records


class Detector:
    """``update(timestamp, value) -> score`` in [0, 1], one reading at a time."""

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        beta: float = 0.05,
        window: int = 128,
        short: int = 3,
        long: int = 500,
        probation: int = 150,
    ) -> None:
        self.alpha, self.beta, self.window, self.short, self.long = alpha, beta, window, short, long
        self.trend = 0.0
        self.probation = probation
        self.seen = 0
        self.mean: float | None = None
        self._errors: deque[float] = deque()
        self._sorted: list[float] = []  # the same errors, kept sorted for the median
        self._recent: deque[float] = deque(maxlen=short)
        self._history: deque[float] = deque()
        self._sum = 0.0
        self._sum_sq = 0.0

    def _surprise(self, value: float) -> float:
        assert self.mean is not None
        error = abs(value - (self.mean + self.trend))
        scale = self._sorted[len(self._sorted) // 2] if self._sorted else 0.0
        if scale <= 0:  # a flat stretch: any move is a surprise, in units of the level
            scale = max(abs(self.mean) * 1e-3, 1e-9)
        self._errors.append(error)
        bisect.insort(self._sorted, error)
        if len(self._errors) > self.window:
            old = self._errors.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        return error / scale

    def _likelihood(self, surprise: float) -> float:
        surprise = math.log1p(surprise)  # tames the tail: a hundredfold spike is not 100 times 1
        self._recent.append(surprise)
        recent = sum(self._recent) / len(self._recent)
        n = len(self._history)
        score = 0.0
        if n >= self.short * 4:
            mean = self._sum / n
            spread = math.sqrt(max(self._sum_sq / n - mean * mean, 0.0))
            spread = max(spread, 0.05 * mean, 1e-6)
            # a spike shows in the reading itself, a drift in the last few together
            z = (max(surprise, recent) - mean) / spread
            tail = 0.5 * math.erfc(z / math.sqrt(2))  # how rarely the history strays this far
            # on a log scale, as Numenta's log-likelihood: 0.5 at one chance in 100,000
            score = min(1.0, max(0.0, -math.log10(max(tail, 1e-300)) / 10))
        self._history.append(surprise)
        self._sum += surprise
        self._sum_sq += surprise * surprise
        if n + 1 > self.long:
            old = self._history.popleft()
            self._sum -= old
            self._sum_sq -= old * old
        return score

    def update(self, timestamp: Any, value: float | None) -> float:
        """The score of this reading (the timestamp is taken as given: readings in order)."""
        del timestamp
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return 0.0
        value = float(value)
        self.seen += 1
        if self.mean is None:
            self.mean, self.trend = value, 0.0
            return 0.0
        score = self._likelihood(self._surprise(value))
        # Holt's smoothing: a level and a trend, so that a steady rise or fall is predicted
        level = self.alpha * value + (1 - self.alpha) * (self.mean + self.trend)
        self.trend = self.beta * (level - self.mean) + (1 - self.beta) * self.trend
        self.mean = level
        return 0.0 if self.seen <= self.probation else round(score, 6)


def _number(text: str) -> float | None:
    text = (text or "").strip()
    if not text or text.lower() in {"nan", "null", "none"}:
        return None
    return float(text)


def score_series(source: Path, output: Path, **options: Any) -> int:
    """``timestamp,value`` in, ``timestamp,value,anomaly_score`` out; returns the rows."""
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise NotFound(f"no file {source}", field="input") from exc
    fieldnames, records = iter_csv_records(text, field="input")
    names = [n.strip().lower() for n in fieldnames]
    if "timestamp" not in names or "value" not in names:
        raise InvalidInput(f"{source.name} needs columns timestamp and value (it has "
                           f"{', '.join(fieldnames) or 'none'})", field="input")  # fmt: skip
    stamp, reading = (
        fieldnames[names.index("timestamp")],
        fieldnames[names.index("value")],
    )
    detector = Detector(**options)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score"])
    count = 0
    for line, row in enumerate(records, start=2):
        try:
            value = _number(row.get(reading) or "")
        except ValueError as exc:
            raise InvalidInput(f"{source.name}, line {line}: {row.get(reading)!r} is not a number",
                               field="input") from exc  # fmt: skip
        score = detector.update(row.get(stamp), value)
        writer.writerow([row.get(stamp), row.get(reading), f"{score:.6f}"])
        count += 1
    output.write_text(out.getvalue(), encoding="utf-8")
    return count
