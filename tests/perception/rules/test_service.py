from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybase.cli import app
from citybase.core.errors import InvalidInput
from citybase.perception.rules import Detector

runner = CliRunner()


def _daily(seed: int, n: int = 2000, noise: float = 0.3) -> list[float]:
    """Water level over a day of 96 readings: a tide-like swing and sensor noise."""
    rng = random.Random(seed)
    return [10 + 3 * math.sin(2 * math.pi * t / 96) + rng.gauss(0, noise) for t in range(n)]


def _scores(values: list[float | None]) -> list[float]:
    detector = Detector()
    return [detector.update(t, v) for t, v in enumerate(values)]


def test_an_ordinary_day_raises_nothing() -> None:
    scores = _scores(list(_daily(1)))
    assert all(0 <= s <= 1 for s in scores)
    assert max(scores) < 0.5
    assert scores[:150] == [0.0] * 150  # the probation: it only learns


def test_a_spike_is_flagged_at_once_and_a_level_shift_within_two_readings() -> None:
    spiked = _daily(2)
    spiked[1200] += 6
    scores = _scores(list(spiked))
    assert scores[1200] >= 0.5
    assert max(scores[:1200] + scores[1221:]) < 0.5
    shifted = [v + (4 if t >= 1400 else 0) for t, v in enumerate(_daily(3))]
    scores = _scores(list(shifted))
    assert max(scores[1400:1402]) >= 0.5
    assert max(scores[:1400]) < 0.5


def test_missing_readings_score_zero_and_teach_nothing() -> None:
    values: list[float | None] = list(_daily(4, n=400))
    values[300] = None
    values[301] = float("nan")
    scores = _scores(values)
    assert scores[300] == 0.0
    assert scores[301] == 0.0
    assert max(scores) < 0.5


def test_score_series_from_the_command_line(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    values = _daily(5, n=600)
    values[500] += 8
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "value"])
        for t, v in enumerate(values):
            writer.writerow([f"2026-07-01T00:{t:04d}", "" if t == 10 else f"{v:.3f}"])
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["perception", "score-series", "--input", str(source),
                                 "--output", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score"]
    assert len(rows) == 600
    assert rows[10]["value"] == ""
    assert float(rows[500]["anomaly_score"]) >= 0.5
    bad = tmp_path / "bad.csv"
    bad.write_text("time,reading\n1,2\n", encoding="utf-8")
    refused = runner.invoke(app, ["perception", "score-series", "--input", str(bad),
                                  "--output", str(out)])  # fmt: skip
    assert refused.exit_code == 1
    assert "timestamp and value" in refused.output


def test_a_reading_that_is_not_a_number_is_named(tmp_path: Path) -> None:
    from citybase.perception.rules import score_series

    source = tmp_path / "in.csv"
    source.write_text("timestamp,value\n1,2.5\n2,high\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="line 3: 'high' is not a number"):
        score_series(source, tmp_path / "out.csv")
