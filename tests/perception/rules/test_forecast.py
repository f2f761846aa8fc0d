from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybase.cli import app
from citybase.perception.rules import forecast as fc

runner = CliRunner()

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


def _weekly(days: int, noise: float = 0.0, seed: int = 1) -> list[tuple[datetime, float]]:
    """Traffic speed: a morning and an evening rush on weekdays, none at the weekend."""
    rng = random.Random(seed)
    out = []
    for i in range(days * 288):
        at = T0 + fc.STEP * i
        hour = at.hour + at.minute / 60
        rush = 18 * (math.exp(-((hour - 8) ** 2) / 1.2) + math.exp(-((hour - 18) ** 2) / 1.5))
        out.append((at, 42 - (rush if at.weekday() < 5 else 0) + rng.gauss(0, noise)))
    return out


def test_a_weekly_cycle_is_forecast_from_its_week_before() -> None:
    # 2026-11-01 is a Sunday: ten days end on a Tuesday's midnight, nine on a Monday's; the
    # day before a Monday morning is a Sunday without rush, the week before is a Monday
    history = [p for p in _weekly(9) if p[0] < T0 + timedelta(days=8, hours=7, minutes=30)]
    found = fc.forecast(history)
    assert found.method.startswith("week")
    monday = [42 - 18 * math.exp(-((p.ts.hour + p.ts.minute / 60 - 8) ** 2) / 1.2)
              - 18 * math.exp(-((p.ts.hour + p.ts.minute / 60 - 18) ** 2) / 1.5)
              for p in found.points]  # fmt: skip
    assert max(abs(p.value - m) for p, m in zip(found.points, monday, strict=True)) < 0.5
    assert not fc.forecast(history[-7 * 288 :]).method.startswith("week")  # a week: not enough


def test_the_band_expected_of_the_history_holds_an_ordinary_day() -> None:
    history = _daily(3)
    found = fc.forecast(history, expected=36)
    assert len(found.expected) == 36
    assert found.expected[-1].ts == history[-1][0]
    assert [p.ts for p in found.expected] == [t for t, _ in history[-36:]]
    for point, (_, value) in zip(found.expected, history[-36:], strict=True):
        assert point.lo80 - 1e-9 <= value <= point.hi80 + 1e-9
    assert fc.forecast(history).expected == []


def test_accuracy_against_seasonal_naive() -> None:
    found = fc.accuracy(_weekly(10, noise=2.0), origins=12, every=4, window=9 * 288)
    assert found.origins == 3
    assert found.mase_week is not None
    # the week back knows the weekend, the day back does not; ours beats the day back
    assert found.mase_week < found.mase_day
    assert found.mase < found.mase_day
    assert 0 <= found.inside80 <= 1
    short = fc.accuracy(_daily(3), origins=12, every=6)
    assert short.mase_week is None
    with pytest.raises(ValueError, match="over a day of history"):
        fc.accuracy(_daily(1), origins=24)
    flat = [(T0 + fc.STEP * i, 5.0) for i in range(3 * 288)]
    with pytest.raises(ValueError, match="no scale"):
        fc.accuracy(flat, origins=12)
    with pytest.raises(ValueError, match="origins"):
        fc.accuracy(_daily(3), origins=0)


def test_accuracy_is_judged_only_where_a_reading_was() -> None:
    history = [p for i, p in enumerate(_weekly(10, noise=1.0)) if i % 3 == 0]  # every 15 min
    found = fc.accuracy(history, origins=12, every=6, window=3 * 288)
    assert found.judged == found.origins * 4  # four readings in each hour forecast


def test_the_forecast_accuracy_command(tmp_path: Path) -> None:
    source = tmp_path / "speed.csv"
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "value"])
        for at, value in _weekly(3, noise=1.0):
            writer.writerow([at.isoformat(), f"{value:.2f}"])
        writer.writerow([(T0 + timedelta(days=3)).isoformat(), ""])  # no value: left out
    result = runner.invoke(app, ["perception", "forecast-accuracy", str(source), "--origins",
                                 "24", "--every", "6"])  # fmt: skip
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("speed.csv"))
    _, steps, origins, ours, day, week, inside, *method = row.split()
    assert (steps, origins, week) == (str(3 * 288), "4", "—")
    assert 0 < float(ours) < 10
    assert 0 < float(day) < 10
    assert inside.endswith("%")
    assert method
    short = tmp_path / "short.csv"
    short.write_text("timestamp,value\n2026-11-01T00:00:00,1\n2026-11-01T00:05:00,2\n",
                     encoding="utf-8")  # fmt: skip
    refused = runner.invoke(app, ["perception", "forecast-accuracy", str(short)])
    assert refused.exit_code == 1
    assert "over a day of history" in refused.output
    timeless = tmp_path / "timeless.csv"
    timeless.write_text("timestamp,value\nnoon,1\n", encoding="utf-8")
    refused = runner.invoke(app, ["perception", "forecast-accuracy", str(timeless)])
    assert refused.exit_code == 1
    assert "'noon' is not a time" in refused.output
