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


def test_counts_sums_and_averages_match_opendps_plan_in_cost_and_noise() -> None:
    """The bounded aggregates with OpenDP's noise per vector give what the OpenDP Polars plan
    over the rows gives: the same ε spent, the same noise scales (the plan's sums carry a small
    allowance for floating-point error, the exact integer sums none), and at a very large ε the
    exact bounded answer."""
    declared = declaration(
        identifier="pid", max_rows_per_person=2, categorical={"区": ["鼓楼", "台江", "晋安"]},
        numeric={"金额": {"lower": -10, "upper": 100}},
    )  # fmt: skip
    rows = [{"pid": f"p{p}", "区": ["鼓楼", "台江"][p % 2], "金额": 7.25 * (p % 5) + 1000 * (p % 7 == 0)}
            for p in range(300) for _ in range(1 + p % 3)]  # fmt: skip
    rows += [{"pid": "p1", "区": "外地", "金额": None}, {"pid": "q", "区": "晋安", "金额": None}]
    spec = parse_sql(
        'SELECT 区, COUNT(*), SUM(金额), AVG(金额) FROM "r" WHERE 金额 >= 0 GROUP BY 区'
    )
    data = mechanisms.frame(rows, "pid", declared, mechanisms.used_columns(spec))
    fast = mechanisms.answer(spec, declared, data, 0.8)
    plan = mechanisms._answer_by_plan(spec, declared, data, 0.8)
    assert abs(fast.epsilon_spent - plan.epsilon_spent) < 1e-6
    assert fast.epsilon_spent <= 0.8
    assert [(a.column, a.statistic) for a in fast.accuracy] == [
        (a.column, a.statistic) for a in plan.accuracy
    ]
    for mine, theirs in zip(fast.accuracy, plan.accuracy, strict=True):
        assert abs(mine.scale / theirs.scale - 1) < 0.01
    # at ε = 10^6 the noise is negligible: the answer is the exact one under the bound (persons
    # with 3 rows keep 2; 1000+ clipped to 100; "外地" is no key; the filter drops a missing amount)
    exact = mechanisms.answer(spec, declared, data, 1e6)
    expected: dict[str, list[float]] = {"鼓楼": [], "台江": [], "晋安": []}
    for p in range(300):
        value = min(7.25 * (p % 5) + 1000 * (p % 7 == 0), 100)
        expected[["鼓楼", "台江"][p % 2]] += [value] * min(1 + p % 3, 2)
    for row in exact.rows:
        values = expected[row["区"]]
        assert row["COUNT(*)"] == len(values)
        assert abs(row["SUM(金额)"] - sum(values)) < 0.01
        if values:
            assert abs(row["AVG(金额)"] - sum(values) / len(values)) < 0.01
    assert [row["区"] for row in exact.rows] == ["鼓楼", "台江", "晋安"]
    assert exact.rows[2]["COUNT(*)"] == 0


def test_the_truncation_keeps_at_most_the_bound_and_a_random_choice() -> None:
    import polars as pl

    people = pl.Series(["a"] * 10 + ["b"] * 2 + ["c"], dtype=pl.String).hash(seed=0)
    chosen = set()
    for _ in range(20):
        kept = mechanisms._kept(people, 3).to_list()
        assert sum(kept[:10]) == 3
        assert kept[10:] == [True, True, True]
        chosen.add(tuple(kept[:10]))
    assert len(chosen) > 1  # not always the same three rows


def test_only_the_rows_over_the_bound_are_dropped_among_many_people() -> None:
    import polars as pl

    # 3,000 people of 1 to 3 rows share the hash buckets the truncation counts first (about
    # two a row): crowded buckets hold people under the bound, who keep every row
    names = [f"p{i}" for i in range(3000) for _ in range(1 + i % 3)] + ["heavy"] * 7
    people = pl.Series(names, dtype=pl.String).hash(seed=0)
    kept = mechanisms._kept(people, 3).to_list()
    assert all(kept[: len(names) - 7])
    assert sum(kept[len(names) - 7 :]) == 3
    assert all(mechanisms._kept(people, 7).to_list())


def test_delta_uses_opendps_gaussian_and_its_zcdp_conversion() -> None:
    from opendp import combinators, domains, measurements, metrics

    rows = _rows(200, 1) + _rows(100, 1, "台江")
    spec = parse_sql('SELECT 区, COUNT(*), SUM(金额) FROM "r" GROUP BY 区')
    data = mechanisms.frame(rows, "pid", DECLARED, mechanisms.used_columns(spec))
    answer = mechanisms.answer(spec, DECLARED, data, 1.0, 1e-6)
    assert answer.rho_spent is not None
    assert answer.delta_spent == 1e-6
    # ρ converted by OpenDP at δ = 10^-6 is the ε spent: a Gaussian whose map is that ρ at
    # distance 1, through OpenDP's conversion, gives the same ε
    gaussian = measurements.make_gaussian(
        domains.atom_domain(T="f64", nan=False),
        metrics.absolute_distance(T="f64"),
        (2 * answer.rho_spent) ** -0.5,
    )
    fixed = combinators.make_fix_delta(combinators.make_zCDP_to_approxDP(gaussian), 1e-6)
    epsilon, delta = fixed.map(1.0)
    assert delta == 1e-6
    assert abs(epsilon - answer.epsilon_spent) < 1e-6
    assert 0.99 < answer.epsilon_spent <= 1.0
    assert {a.distribution for a in answer.accuracy} == {"Integer Gaussian"}
    # at δ = 10^-6 the Gaussian's scale is larger than the Laplace's at the same ε here
    laplace = mechanisms.answer(spec, DECLARED, data, 1.0)
    assert answer.accuracy[0].scale > laplace.accuracy[0].scale
    low = mechanisms.answer(spec, DECLARED, data, 10.0, 1e-6)  # σ about 1: near the truth
    for row, true in zip(low.rows, [200, 100, 0], strict=True):
        assert abs(row["COUNT(*)"] - true) <= 8


def test_a_quantile_with_delta_is_refused() -> None:
    import pytest

    from citybase.data.sandbox.dialect import QueryRefused

    spec = parse_sql('SELECT MEDIAN(金额) FROM "r"')
    data = mechanisms.frame(_rows(10, 1), "pid", DECLARED, mechanisms.used_columns(spec))
    with pytest.raises(QueryRefused) as refused:
        mechanisms.answer(spec, DECLARED, data, 1.0, 1e-6)
    assert refused.value.field == "delta"
