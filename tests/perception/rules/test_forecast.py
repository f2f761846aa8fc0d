from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from citybase.perception.rules import forecast as fc

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _daily(days: int, jump: float = 0.0) -> list[tuple[datetime, float]]:
    out = []
    for i in range(days * 288):
        value = 10 + 5 * math.sin(i / 288 * 2 * math.pi)
        if jump and i >= days * 288 - 24:
            value += jump  # the last two hours sit higher
        out.append((T0 + fc.STEP * i, value))
    return out


def test_a_daily_series_is_forecast_from_its_day_before() -> None:
    history = _daily(3)
    found = fc.forecast(history)
    assert found.method.startswith("day")
    assert len(found.points) == 12
    assert found.points[0].ts == history[-1][0] + fc.STEP
    for h, point in enumerate(found.points, start=1):
        truth = 10 + 5 * math.sin((3 * 288 - 1 + h) / 288 * 2 * math.pi)
        assert point.value == pytest.approx(truth, abs=1e-6)
        assert point.lo95 <= point.lo80 <= point.value <= point.hi80 <= point.hi95


def test_a_shift_carries_into_the_next_hour_and_short_histories_use_holt() -> None:
    found = fc.forecast(_daily(3, jump=4.0))
    assert found.points[0].value > 10 + 5 * math.sin((3 * 288) / 288 * 2 * math.pi) + 3
    short = fc.forecast([(T0 + fc.STEP * i, 2.0 + 0.01 * i) for i in range(40)])
    assert short.method == "holt"
    assert short.points[-1].value > 2.39  # the trend goes on, damped
    with pytest.raises(ValueError, match="an hour"):
        fc.forecast([(T0, 1.0), (T0 + timedelta(minutes=5), 2.0)])


def test_gaps_are_filled_on_the_grid() -> None:
    end, values = fc.grid([(T0, 1.0), (T0 + timedelta(minutes=2), 3.0),
                           (T0 + timedelta(minutes=20), 5.0)])  # fmt: skip
    assert end == T0 + timedelta(minutes=20)
    # steps count back from the last reading: 20, 15, 10, 5 and 0 minutes before it
    assert values == [1.0, 3.0, 3.0, 3.0, 5.0]
