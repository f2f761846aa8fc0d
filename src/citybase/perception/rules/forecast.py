"""The next hour of a series, in 5-minute steps, with prediction intervals (一小时持续推演).

How: the history is put on a 5-minute grid. For each candidate season — a week, a day, a tide
(12 h 25 min), none — the forecast is the value one season back, corrected by how far the series now
stands from its own value one season ago, the correction fading step by step (a damped error
correction: a rainstorm that has lifted a river stays in the next hour's forecast); with no
season, Holt's damped trend. The candidate with the smallest error when the same forecasts are
made from the origins of the last day is kept, and the errors it made there, step by step, give
the intervals: the 80 % and 95 % quantiles of the absolute error at each horizon. Plain Python,
a few milliseconds a series; no training beyond the series itself."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

STEP = timedelta(minutes=5)
HORIZON = 12  # an hour
# steps of 5 minutes; the semidiurnal tide is 12 h 25 min
SEASONS = {"week": 7 * 288, "day": 288, "tide": 149}
_AVERAGED = {"week": 2, "day": 7}  # seasons averaged by the "averaged" variants


@dataclass(frozen=True)
class ForecastPoint:
    ts: datetime
    value: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


@dataclass(frozen=True)
class Forecast:
    method: str
    points: list[ForecastPoint]
    backtest_mae: float | None
    expected: list[ForecastPoint] = field(default_factory=list)  # the band around the history


def grid(
    history: list[tuple[datetime, float]], step: timedelta = STEP
) -> tuple[datetime, list[float]]:
    """Readings → one value per step (the mean of those in it), gaps filled with the last known
    value; returns the grid's last step start and the values, oldest first."""
    end, values, _ = observed_grid(history, step)
    return end, values


def observed_grid(
    history: list[tuple[datetime, float]], step: timedelta = STEP
) -> tuple[datetime, list[float], list[bool]]:
    """As ``grid``, with whether each step held a reading (False where a gap was filled)."""
    if not history:
        raise ValueError("no history")
    history = sorted(history)
    end = history[-1][0]
    first = history[0][0]
    n = int((end - first) / step) + 1
    sums, counts = [0.0] * n, [0] * n
    for at, value in history:
        i = n - 1 - int((end - at) / step)
        sums[i] += value
        counts[i] += 1
    values: list[float] = []
    last = history[0][1]
    for s, c in zip(sums, counts, strict=True):
        last = s / c if c else last
        values.append(last)
    return end, values, [c > 0 for c in counts]


def _seasonal(
    values: list[float], season: int, origin: int, horizon: int, phi: float
) -> list[float]:
    """From ``values[:origin]``: one season back, corrected by how far the last quarter hour stood
    from its own season before (a mean of three, so one noisy reading carries less), damped."""
    last = range(max(season, origin - 3), origin)
    deviation = sum(values[i] - values[i - season] for i in last) / len(last) if phi else 0.0
    return [values[origin - 1 - season + h] + deviation * phi**h for h in range(1, horizon + 1)]


def _usual(values: list[float], season: int, seasons: int, t: int) -> float:
    """The usual value at step ``t``: the mean of up to ``seasons`` seasons back, each over the
    five steps about it, so that noise averages out (none of them later than ``t - season +
    2``, so it never sees past an origin a season ahead of it)."""
    total, count = 0.0, 0
    for back in range(1, seasons + 1):
        at = t - back * season
        if at - 2 < 0:
            break
        window = values[at - 2 : at + 3]
        total += sum(window)
        count += len(window)
    return total / count if count else math.nan


def _averaged(
    values: list[float], season: int, origin: int, horizon: int, seasons: int, phi: float = 0.9,
    usual: dict[int, float] | None = None,
) -> list[float]:  # fmt: skip
    """From ``values[:origin]``: the usual value at this point of the season, corrected by how
    far the last half hour stood from its own usual values, damped (``usual``: those values
    already found, by step)."""

    def at(t: int) -> float:
        found = usual.get(t) if usual is not None else None
        if found is None:
            found = _usual(values, season, seasons, t)
        return values[origin - 1] if math.isnan(found) else found

    last = range(max(0, origin - 6), origin)
    deviation = sum(values[i] - at(i) for i in last) / len(last)
    return [at(origin - 1 + h) + deviation * phi**h for h in range(1, horizon + 1)]


def _holt(values: list[float], origin: int, horizon: int, alpha: float = 0.5, beta: float = 0.1,
          phi: float = 0.9) -> list[float]:  # fmt: skip
    level, trend = values[max(0, origin - 48)], 0.0
    for y in values[max(0, origin - 48) : origin]:
        previous = level
        level = alpha * y + (1 - alpha) * (level + phi * trend)
        trend = beta * (level - previous) + (1 - beta) * phi * trend
    out, damp = [], 0.0
    for h in range(1, horizon + 1):
        damp += phi**h
        out.append(level + damp * trend)
    return out


def _methods(n: int) -> list[str]:
    """The candidates a history this long allows: Holt always; each season (corrected, and
    plain one season back) once the history holds it and a day's origins to judge it on."""
    found = ["holt"]
    for name, season in SEASONS.items():
        if n >= season + 2 * HORIZON + 24:
            found += [name, f"{name}, uncorrected"]
            if name in _AVERAGED:
                found.append(f"{name}, averaged")
    return found


def _predict(
    values: list[float], method: str, origin: int, horizon: int,
    usual: dict[int, float] | None = None,
) -> list[float]:  # fmt: skip
    if method == "holt":
        return _holt(values, origin, horizon)
    name, _, variant = method.partition(", ")
    if variant == "averaged":
        return _averaged(values, SEASONS[name], origin, horizon, _AVERAGED[name], usual=usual)
    return _seasonal(values, SEASONS[name], origin, horizon, 0.0 if variant else 0.97)


def _errors(values: list[float], method: str, horizon: int, origins: int) -> list[list[float]]:
    """Absolute errors at each horizon over the last ``origins`` origins of the history."""
    per_h: list[list[float]] = [[] for _ in range(horizon)]
    n = len(values)
    name, _, variant = method.partition(", ")
    first = max(n - origins - horizon, SEASONS.get(name, 0) + 2)
    usual = None
    if variant == "averaged":  # the usual values do not depend on the origin: found once
        season, seasons = SEASONS[name], _AVERAGED[name]
        usual = {t: _usual(values, season, seasons, t) for t in range(max(0, first - 6), n)}
    for origin in range(first, n - horizon + 1):
        predicted = _predict(values, method, origin, horizon, usual)
        for h in range(horizon):
            per_h[h].append(abs(values[origin + h] - predicted[h]))
    return per_h


def _recent_mae(errors: list[list[float]], half_life: float = 24) -> float:
    """Mean absolute error, the recent origins weighing more (half of the weight in the last
    two hours): what serves now is what served lately — when a storm comes, the methods that
    follow it."""
    total = weight = 0.0
    for row in errors:
        n = len(row)
        for i, e in enumerate(row):
            w = 0.5 ** ((n - 1 - i) / half_life)
            total += w * e
            weight += w
    return total / weight if weight else math.inf


def _quantile(sample: list[float], q: float) -> float:
    if not sample:
        return math.nan
    ordered = sorted(sample)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def choose(values: list[float], horizon: int = HORIZON) -> tuple[str, list[list[float]]]:
    """The method that served a gridded history best lately, and its absolute errors at each
    horizon over the history's recent origins."""
    if len(values) < 12:
        raise ValueError("at least an hour of history is needed")
    origins = min(288, max(12, len(values) // 4))
    scored = []
    for method in _methods(len(values)):
        errors = _errors(values, method, horizon, origins)
        scored.append((_recent_mae(errors), method, errors))
    _, method, errors = min(scored, key=lambda s: s[0])
    return method, errors


def predict(values: list[float], method: str, origin: int, horizon: int = HORIZON) -> list[float]:
    """``method``'s forecast of ``values[origin : origin + horizon]`` from those before."""
    return _predict(values, method, origin, horizon)


def forecast(
    history: list[tuple[datetime, float]], horizon: int = HORIZON, *, expected: int = 0
) -> Forecast:
    """The next ``horizon`` 5-minute steps after the history's last reading; with ``expected``,
    also the band expected of the history's last ``expected`` steps: at each, what the chosen
    method forecast ``horizon`` steps before it (seeing only the readings before that), with
    the intervals of that horizon."""
    end, values = grid(history)
    method, errors = choose(values, horizon)
    band = _expected(values, method, errors, horizon, expected, end) if expected > 0 else []
    flat = [e for row in errors for e in row]
    mae = sum(flat) / len(flat) if flat else math.inf
    predicted = _predict(values, method, len(values), horizon)
    points = []
    for h, value in enumerate(predicted):
        q80, q95 = _quantile(errors[h], 0.8), _quantile(errors[h], 0.95)
        if math.isnan(q80):
            q80 = q95 = 0.0
        points.append(ForecastPoint(end + STEP * (h + 1), value, value - q80, value + q80,
                                    value - q95, value + q95))  # fmt: skip
    return Forecast(method, points, None if math.isinf(mae) else mae, band)


def _expected(values: list[float], method: str, errors: list[list[float]], horizon: int,
              steps: int, end: datetime) -> list[ForecastPoint]:  # fmt: skip
    """At each of the last ``steps`` steps, the forecast made ``horizon`` steps before it."""
    q80, q95 = _quantile(errors[-1], 0.8), _quantile(errors[-1], 0.95)
    if math.isnan(q80):
        return []
    name = method.partition(", ")[0]
    earliest = SEASONS.get(name, 0) + horizon + 3  # an origin with a season behind it
    n, band = len(values), []
    for t in range(max(earliest, n - steps), n):
        value = _predict(values, method, t - horizon + 1, horizon)[-1]
        band.append(ForecastPoint(end - STEP * (n - 1 - t), value, value - q80, value + q80,
                                  value - q95, value + q95))  # fmt: skip
    return band


def seasonal_naive(
    values: list[float], origin: int, horizon: int, season: int = 288
) -> list[float]:
    """The reference: the value one day back."""
    return [values[origin - season + h] for h in range(horizon)]


@dataclass(frozen=True)
class Accuracy:
    """A backtest of the hour-ahead forecast on one series (MASE: mean absolute scaled error)."""

    steps: int  # of the 5-minute grid
    origins: int  # forecasts made
    judged: int  # forecast steps that held a reading, on which the errors are taken
    scale: float  # the in-sample error of the value a day back, before the first origin
    mase: float  # ours
    mase_day: float  # seasonal-naive, the value a day back
    mase_week: float | None  # seasonal-naive, the value a week back (None: under a week)
    inside80: float  # share of the readings inside our 80 % interval
    method: str  # the method chosen most often


def accuracy(
    history: list[tuple[datetime, float]], *, origins: int = 288, every: int = 1,
    window: int = 14 * 288, horizon: int = HORIZON,
) -> Accuracy:  # fmt: skip
    """Forecast the next ``horizon`` steps from each of the last ``origins`` origins (one in
    ``every``), each seeing only the ``window`` steps before it, and compare with the
    seasonal-naive forecasts from the same origins. Errors are taken only on steps that held a
    reading (not on gaps the grid filled), and scaled, as MASE is, by the mean absolute error
    of the value a day back within the history before the first origin."""
    if origins < 1 or every < 1 or window < 12:
        raise ValueError("origins and every ≥ 1, window ≥ 12")
    _, values, seen = observed_grid(history)
    n, day, week = len(values), SEASONS["day"], SEASONS["week"]
    first = n - horizon - origins + 1
    if first < day + 2 * HORIZON:
        raise ValueError(f"{n} steps of 5 minutes: the origins need over a day of history before "
                         "them")  # fmt: skip
    inside = [
        abs(values[t] - values[t - day]) for t in range(day, first) if seen[t] and seen[t - day]
    ]
    scale = sum(inside) / len(inside) if inside else 0.0
    if scale <= 0:
        raise ValueError("the series does not change from one day to the next: MASE has no scale")
    ours = naive_day = naive_week = 0.0
    judged = hits = made = 0
    weekly = first >= week
    methods: dict[str, int] = {}
    for origin in range(first, n - horizon + 1, every):
        past = values[max(0, origin - window) : origin]
        method, errors = choose(past, horizon)
        methods[method] = methods.get(method, 0) + 1
        predicted = _predict(past, method, len(past), horizon)
        made += 1
        for h in range(horizon):
            t = origin + h
            if not seen[t]:
                continue
            truth = values[t]
            judged += 1
            ours += abs(predicted[h] - truth)
            naive_day += abs(values[t - day] - truth)
            if weekly:
                naive_week += abs(values[t - week] - truth)
            q80 = _quantile(errors[h], 0.8)
            hits += not math.isnan(q80) and abs(truth - predicted[h]) <= q80
    if not judged:
        raise ValueError("no reading fell in the forecasts' hours")
    per = judged * scale
    return Accuracy(n, made, judged, scale, ours / per, naive_day / per,
                    naive_week / per if weekly else None, hits / judged,
                    max(methods, key=lambda m: methods[m]))  # fmt: skip
