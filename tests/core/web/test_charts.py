"""The server-drawn charts: round ticks covering the values, thresholds and marks inside the
plot, days stacked by kind with their totals, ranked bars with their values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citybase.core.web.charts import (
    TimeSeries,
    group_days,
    local_days,
    nice_ticks,
    ranked_bars,
    stacked_days,
    time_chart,
)


def test_ticks_are_round_and_cover_the_values() -> None:
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0.13, 0.92) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = nice_ticks(1.7, 3.3)
    assert ticks[0] <= 1.7
    assert ticks[-1] >= 3.3
    assert nice_ticks(5, 5)[0] <= 5 <= nice_ticks(5, 5)[-1]


def test_a_curve_with_a_threshold_and_an_alarm() -> None:
    start = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    points = [(start + timedelta(minutes=10 * i), 2 + i / 100) for i in range(144)]
    chart = time_chart("Water level", [TimeSeries("Readings", "actual", points)],
                       thresholds=[(3.0, ">")], marks=[(points[100][0], 3.1, "high")])  # fmt: skip
    assert chart is not None
    assert [e.label for e in chart.legend] == ["Readings", "Threshold", "Alarm"]
    assert chart.top <= chart.lines[0].y <= chart.bottom
    assert chart.lines[0].label == "> 3"
    mark = chart.marks[0]
    assert chart.left <= mark.x <= chart.right
    assert mark.y < chart.lines[0].y  # above the threshold line: higher values are higher up
    assert len(chart.x_ticks) >= 3
    assert chart.y_ticks[0].label == "2"
    assert time_chart("nothing", [TimeSeries("Readings", "actual", [])]) is None


def test_days_stacked_by_kind_with_their_totals() -> None:
    days = local_days(datetime(2026, 12, 6, 3, 0, tzinfo=UTC), 3)
    assert days == ["2026-12-04", "2026-12-05", "2026-12-06"]
    rows = [("2026-12-04", "01", 3), ("2026-12-04", "02", 1), ("2026-12-06", "01", 2)]
    chart = stacked_days("Cases", days, group_days(rows), {"01": "市容环境", "02": "交通"})
    assert chart is not None
    assert [e.label for e in chart.legend] == ["市容环境", "交通"]
    totals = [b.value for b in chart.bars if b.cls == "total"]
    assert totals == ["4", "2"]
    first_day = [
        b for b in chart.bars if b.cls.startswith("series") and b.title.startswith("2026-12-04")
    ]
    assert abs(sum(b.h for b in first_day) - (chart.bottom - min(b.y for b in first_day))) < 0.5
    assert stacked_days("Cases", days, {}, {}) is None


def test_ranked_bars_largest_first_with_values() -> None:
    chart = ranked_bars(
        "Open cases", [("台江区", 3, "/a"), ("鼓楼区", 12, "/b")], value_format="{:.0f}"
    )
    assert chart is not None
    assert [(b.label, b.value, b.link) for b in chart.bars] == [("鼓楼区", "12", "/b"),
                                                                ("台江区", "3", "/a")]  # fmt: skip
    assert chart.bars[0].w > chart.bars[1].w
