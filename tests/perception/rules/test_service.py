from __future__ import annotations

import csv
import json
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


T0 = 1_780_000_000.0  # seconds since the epoch; readings every 15 minutes


def _scores(
    values: list[float | None], detector: Detector | None = None, *, timed: bool = True
) -> list[float]:
    detector = detector or Detector()
    return [detector.update(T0 + 900 * t if timed else None, v) for t, v in enumerate(values)]


def test_an_ordinary_day_raises_nothing() -> None:
    scores = _scores(list(_daily(1)))
    assert all(0 <= s <= 1 for s in scores)
    assert max(scores) < 0.5
    assert scores[:150] == [0.0] * 150  # the warm-up: it only learns


def test_a_spike_is_flagged_at_once_and_a_level_shift_at_its_first_reading() -> None:
    spiked = _daily(2)
    spiked[1200] += 6  # twenty noise widths
    scores = _scores(list(spiked))
    assert scores[1200] >= 0.5
    assert max(scores[:1200] + scores[1201:]) < 0.5
    shifted = [v + (4 if t >= 1400 else 0) for t, v in enumerate(_daily(3))]
    scores = _scores(list(shifted))
    assert scores[1400] >= 0.5
    assert max(scores[:1400]) < 0.5


@pytest.mark.parametrize("timed", [True, False])
def test_one_alarm_for_one_episode_then_it_listens_again(timed: bool) -> None:
    # with times, 12 hours of rest (48 readings of 15 minutes); without, 48 readings
    detector = Detector(rest=48, rest_hours=12)
    values = _daily(6)
    for t in (1000, 1001, 1002):
        values[t] += 8
    values[1060] -= 8
    scores = _scores(list(values), detector, timed=timed)
    assert scores[1000] >= 0.5
    assert scores[1001:1048] == [0.0] * 47  # kept quiet while the episode lasts
    assert scores[1060] >= 0.5  # a new episode after the rest


def test_an_alarm_says_why() -> None:
    detector = Detector()
    values = _daily(7, n=1000)
    _scores(values, detector)
    assert detector.update(T0 + 900 * 1000, 30.0) >= 0.5
    why = detector.explain()
    assert "saw 30" in why
    assert "expected" in why
    assert "higher than any reading before" in why
    assert detector.update(T0 + 900 * 1001, -20.0) == 0.0  # within the rest after the alarm
    assert "lower than any reading before" in detector.explain()
    assert "still learning" in (d := Detector(), d.update(None, 1.0), d.explain())[2]


def test_a_missing_cycle_within_known_levels_is_flagged_and_named() -> None:
    detector = Detector()
    values = _daily(11, n=2500)
    rng = random.Random(12)
    for t in range(2000, 2096):  # a day on which the tide does not come: level, noise only
        values[t] = 10 + rng.gauss(0, 0.3)
    scores, reasons = [], []
    for t, v in enumerate(values):
        scores.append(detector.update(T0 + 900 * t, v))
        reasons.append(detector.explain())
    assert max(scores[:2000]) < 0.5
    flagged = [t for t in range(2000, 2096) if scores[t] >= 0.5]
    assert flagged
    assert any("the mean of the last 16 readings" in reasons[t] or "its daily cycle" in reasons[t]
               for t in flagged)  # fmt: skip
    assert all("saw" in reasons[t] and "expected" in reasons[t] for t in flagged)


def test_a_change_of_variance_is_named_as_such() -> None:
    detector = Detector()
    values = _daily(21, n=2500)
    rng = random.Random(22)
    for t in range(2000, 2200):  # the sensor grows noisy: five times the noise
        values[t] += rng.gauss(0, 1.5)
    reasons = []
    for t, v in enumerate(values):
        if detector.update(T0 + 900 * t, v) >= 0.5:
            reasons.append(detector.explain())
    assert any("(a change of variance)" in why and "times as much as usual" in why
               for why in reasons)  # fmt: skip
    quiet = Detector()
    _scores(_daily(21, n=2500), quiet)
    assert "a change of variance)" not in quiet.explain()


def test_a_state_stored_before_the_coarse_scale_is_still_read() -> None:
    values = _daily(13, n=1500)
    live = Detector()
    _scores(values[:1000], live)
    old = json.loads(json.dumps(live.state()))
    old["version"] = 1
    for key in ("coarse", "block_sum", "block_len", "blocks", "previous", "steps"):
        del old[key]
    for key in ("block", "block_warmup"):
        del old["params"][key]
    again = Detector.from_state(old)
    assert again.seen == 1000
    assert again.blocks == 0  # the coarse scale warms up anew, quietly
    scores = _scores(values[1000:], again)
    assert all(0 <= s < 0.5 for s in scores)


def test_missing_readings_score_zero_and_teach_nothing() -> None:
    detector = Detector()
    values: list[float | None] = list(_daily(4, n=400))
    values[300] = None
    values[301] = float("nan")
    values[302] = float("inf")
    scores = _scores(values, detector)
    assert scores[300:303] == [0.0, 0.0, 0.0]
    assert detector.seen == 397
    assert max(scores) < 0.5


def test_the_state_survives_a_round_trip_through_json() -> None:
    values = _daily(8, n=1500)
    values[1300] -= 7
    live = Detector()
    _scores(values[:1000], live)
    stored = json.loads(json.dumps(live.state()))
    again = Detector.from_state(stored)
    assert _scores(values[1000:], again) == _scores(values[1000:], live)
    assert again.seen == live.seen == 1500
    with pytest.raises(ValueError, match="version"):
        Detector.from_state({**stored, "version": 99})
    with pytest.raises(ValueError, match="bins"):
        Detector(bins=0)


def test_its_memory_is_bounded() -> None:
    rng = random.Random(9)
    detector = Detector(max_contexts=300, bins=20)
    for t in range(5000):
        detector.update(t, rng.random())
    assert all(len(g.full) <= 300 + 1024 for g in detector.grids)
    assert all(0 <= detector.update(0, rng.random()) <= 1 for _ in range(10))


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


def _weekly(weeks: int, seed: int = 31) -> list[float]:
    """Traffic speed every 15 minutes: morning and evening rush hours on weekdays, free-flowing
    weekends (T0 falls on a Thursday)."""
    rng = random.Random(seed)
    out = []
    for t in range(weeks * 7 * 96):
        day, hour = divmod(t / 4, 24)
        weekday = (int(day) + 3) % 7 < 5
        rush = 18 * (math.exp(-((hour - 8) ** 2) / 1.2) + math.exp(-((hour - 18) ** 2) / 1.5))
        out.append(42 - (rush if weekday else 0) + rng.gauss(0, 1))
    return out


def test_a_weekday_run_like_a_sunday_is_flagged_against_the_weekly_cycle() -> None:
    values = _weekly(6)
    holiday = range(4 * 7 * 96 + 4 * 96, 4 * 7 * 96 + 5 * 96)  # the fifth week's Monday
    ordinary = list(values)
    for t in holiday:  # no rush hours that day
        values[t] = 42 + random.Random(t).gauss(0, 1)
    detector, scores, reasons = Detector(), [], []
    for t, v in enumerate(values):
        scores.append(detector.update(T0 + 900 * t, v))
        reasons.append(detector.explain())
    learnt = 3 * 7 * 96  # past three weeks
    assert max(scores[learnt : holiday.start]) < 0.5
    flagged = [t for t in holiday if scores[t] >= 0.5]
    assert flagged
    assert any("weekly cycle" in reasons[t] and "above the usual" in reasons[t] for t in flagged)
    assert detector.cycles[1].learnt(detector.cycle_share)
    assert max(_scores(ordinary)[learnt:]) < 0.5
    blind = Detector()  # without times it learns no cycle
    _scores(values[:learnt], blind, timed=False)
    assert blind.cycles[0].hour < 0  # no hour seen
    assert not blind.cycles[1].learnt(1.0)


def test_the_cycles_survive_a_round_trip_and_a_state_before_them_is_read() -> None:
    values = _weekly(3)
    live = Detector()
    _scores(values[:1500], live)
    again = Detector.from_state(json.loads(json.dumps(live.state())))
    assert again.cycles[1].mean == live.cycles[1].mean
    assert _scores(values[1500:], again) == _scores(values[1500:], live)
    old = json.loads(json.dumps(live.state()))
    old["version"] = 2
    del old["cycles"]
    for key in ("cycle_z", "cycle_share", "cycle_run"):
        del old["params"][key]
    before = Detector.from_state(old)
    assert before.cycles[0].hour < 0  # they start anew
    with pytest.raises(ValueError, match="cycle_share"):
        Detector(cycle_share=0)
