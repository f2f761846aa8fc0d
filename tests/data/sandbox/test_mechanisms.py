"""Answers computed by OpenDP: the contribution bound holds, values are clipped to their declared
bounds, every public key is answered, the privacy loss is OpenDP's and never above the asked ε,
and OpenDP's accuracy comes with every noisy statistic."""

from __future__ import annotations

from typing import Any

from citybase.data.sandbox import mechanisms
from citybase.data.sandbox.dialect import parse_sql
from citybase.data.sandbox.schemas import Answer
from tests.data.sandbox.factories import declaration

DECLARED = declaration(
    identifier="pid", max_rows_per_person=1, categorical={"区": ["鼓楼", "台江", "晋安"]},
    numeric={"金额": {"lower": 0, "upper": 100}},
)  # fmt: skip


def _ask(sql: str, rows: list[dict[str, Any]], epsilon: float = 10.0) -> Answer:
    spec = parse_sql(sql)
    frame = mechanisms.frame(rows, "pid", DECLARED, mechanisms.used_columns(spec))
    return mechanisms.answer(spec, DECLARED, frame, epsilon)


def _rows(
    people: int, each: int, district: str = "鼓楼", amount: float = 10
) -> list[dict[str, Any]]:
    return [{"pid": f"{district}{p}", "区": district, "金额": amount}
            for p in range(people) for _ in range(each)]  # fmt: skip


def test_one_person_counts_at_most_their_bound_and_every_key_is_answered() -> None:
    rows = _rows(200, 5, "鼓楼") + _rows(100, 1, "台江")  # 1,100 rows of 300 people
    answer = _ask('SELECT 区, COUNT(*) FROM "r" GROUP BY 区', rows, epsilon=10.0)
    got = {row["区"]: row["COUNT(*)"] for row in answer.rows}
    assert set(got) == {"鼓楼", "台江", "晋安"}  # 晋安 has no row, and is answered all the same
    # at ε=10 the noise's scale is 0.1: the counts are the bounded ones (one row a person)
    assert abs(got["鼓楼"] - 200) <= 5
    assert abs(got["台江"] - 100) <= 5
    assert got["晋安"] <= 5
    assert answer.columns == ["区", "COUNT(*)"]


def test_values_are_clipped_to_the_declared_bounds_and_filters_apply() -> None:
    rows = _rows(100, 1, "鼓楼", amount=5000) + _rows(100, 1, "台江", amount=50)
    answer = _ask("SELECT SUM(金额), AVG(金额) FROM \"r\" WHERE 区 = '鼓楼'", rows, epsilon=10.0)
    (row,) = answer.rows
    assert abs(row["SUM(金额)"] - 100 * 100) < 200  # 5000 clipped to the bound 100
    assert abs(row["AVG(金额)"] - 100) < 5
    between = _ask("SELECT COUNT(*) FROM \"r\" WHERE 金额 > 60 AND 区 != '晋安'", rows)
    assert abs(between.rows[0]["COUNT(*)"] - 100) <= 5


def test_the_cost_is_opendps_map_and_each_statistic_carries_its_accuracy() -> None:
    rows = _rows(50, 2)
    answer = _ask('SELECT 区, COUNT(*), SUM(金额), MEDIAN(金额) FROM "r" GROUP BY 区', rows, 0.5)
    assert 0.49 < answer.epsilon_spent <= 0.5
    statistics = {(a.column, a.statistic) for a in answer.accuracy}
    assert statistics == {("COUNT(*)", "Frame Length"), ("SUM(金额)", "Sum"),
                          ("QUANTILE(金额, 0.5)", "0.5-Quantile")}  # fmt: skip
    count = next(a for a in answer.accuracy if a.statistic == "Frame Length")
    assert count.distribution == "Integer Laplace"
    assert count.accuracy is not None
    assert count.accuracy > 0
    # a smaller ε is a wider interval: the same query at ε 0.1 is five times as noisy
    wider = _ask('SELECT COUNT(*) FROM "r"', rows, 0.1).accuracy[0].accuracy
    narrower = _ask('SELECT COUNT(*) FROM "r"', rows, 0.5).accuracy[0].accuracy
    assert wider is not None
    assert narrower is not None
    assert wider > 4 * narrower


def test_answers_are_noisy_not_the_true_values() -> None:
    rows = _rows(1000, 1)
    counts = {_ask('SELECT COUNT(*) FROM "r"', rows, 0.05).rows[0]["COUNT(*)"] for _ in range(5)}
    assert len(counts) > 1  # scale 20: five equal draws would be a broken mechanism
