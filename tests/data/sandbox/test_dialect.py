"""The sandbox's SQL dialect: what it reads, and what it refuses naming the rule and field."""

from __future__ import annotations

import pytest

from citybase.data.sandbox.dialect import QueryRefused, check, parse_sql
from citybase.data.sandbox.schemas import Aggregate, Condition, Measure, Op, QuerySpec
from tests.data.sandbox.factories import declaration

DECLARED = declaration()


def test_a_grouped_query_with_conditions_is_read_into_its_structured_form() -> None:
    spec = parse_sql(
        'SELECT 性别, COUNT(*) AS 人数, SUM(罚款金额), AVG("罚款金额"), MEDIAN(罚款金额), '
        "QUANTILE(罚款金额, 0.9) FROM \"350100-R1\" WHERE 罚款金额 >= 100 AND (性别 IN ('男', '女')) "
        "GROUP BY 性别"
    )
    assert spec == QuerySpec(
        resource_code="350100-R1",
        select=[
            Measure(agg=Aggregate.count_, label="人数"),
            Measure(agg=Aggregate.sum, column="罚款金额"),
            Measure(agg=Aggregate.avg, column="罚款金额"),
            Measure(agg=Aggregate.quantile, column="罚款金额", q=0.5),
            Measure(agg=Aggregate.quantile, column="罚款金额", q=0.9),
        ],
        group_by=["性别"],
        where=[
            Condition(column="罚款金额", op=Op.ge, value=100.0),
            Condition(column="性别", op=Op.in_, value=["男", "女"]),
        ],
    )
    check(spec, DECLARED)  # all declared: no refusal
    assert [m.title() for m in spec.select][:3] == ["人数", "SUM(罚款金额)", "AVG(罚款金额)"]


@pytest.mark.parametrize(
    ("sql", "rule", "field"),
    [
        ("SELECT 姓名 FROM t", "query.non_aggregate", "姓名"),
        ("SELECT 姓名, COUNT(*) FROM t", "query.non_aggregate", "姓名"),
        ("SELECT 罚款金额 + 1 FROM t", "query.non_aggregate", "sql"),
        ("DELETE FROM t", "query.not_select", "sql"),
        ("SELECT COUNT(*) FROM t ORDER BY 性别", "query.unsupported", "sql"),
        ("SELECT COUNT(*) FROM t LIMIT 1", "query.unsupported", "sql"),
        ("SELECT COUNT(*) FROM a JOIN b ON a.x = b.x", "query.unsupported", "sql"),
        ("SELECT MAX(罚款金额) FROM t", "query.unsupported", "sql"),
        ("SELECT COUNT(姓名) FROM t", "query.unsupported", "sql"),
        ("SELECT COUNT(*) FROM t WHERE 性别 = '男' OR 性别 = '女'", "query.unsupported", "sql"),
        ("SELECT QUANTILE(罚款金额, 2) FROM t", "query.syntax", "sql"),
        ("SELECT COUNT(*) FROM t; SELECT COUNT(*) FROM t", "query.syntax", "sql"),
        ("SELECT COUNT(*) FROM (SELECT 1)", "query.unsupported", "sql"),
        ("SELECT COUNT(* FROM t", "query.syntax", "sql"),
    ],
)
def test_what_the_dialect_refuses(sql: str, rule: str, field: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        parse_sql(sql)
    assert (refused.value.rule, refused.value.field) == (rule, field), refused.value.message


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        ("SELECT COUNT(*) FROM t GROUP BY 姓名", "group_by[0]"),
        ("SELECT COUNT(*) FROM t GROUP BY 罚款金额", "group_by[0]"),  # numeric, not a category
        ("SELECT SUM(性别) FROM t", "select[0].column"),
        ("SELECT AVG(公民身份号码) FROM t", "select[0].column"),  # the identifier is never asked
        ("SELECT COUNT(*) FROM t WHERE 住址 = '福州'", "where[0].column"),
    ],
)
def test_columns_not_declared_for_what_they_are_used_are_refused(sql: str, field: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check(parse_sql(sql), DECLARED)
    assert refused.value.rule == "query.undeclared_column"
    assert refused.value.field == field
    assert "not declared" in refused.value.message


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        ("SELECT COUNT(*) FROM t WHERE 性别 > '男'", "where[0].op"),
        ("SELECT COUNT(*) FROM t WHERE 罚款金额 = '高'", "where[0].value"),
        ("SELECT COUNT(*) FROM t WHERE 罚款金额 IN (1, 2)", "where[0].value"),
    ],
)
def test_conditions_must_suit_the_column(sql: str, field: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        check(parse_sql(sql), DECLARED)
    assert (refused.value.rule, refused.value.field) == ("query.bad_condition", field)


@pytest.mark.parametrize(
    "where",
    [
        {"column": "性别", "op": "=", "value": ["男"]},
        {"column": "罚款金额", "op": "<", "value": [1.0, 2.0]},
        {"column": "性别", "op": "in", "value": "男"},
        {"column": "性别", "op": "in", "value": []},
    ],
)
def test_a_structured_condition_takes_a_list_with_in_only(where: dict[str, object]) -> None:
    spec = QuerySpec.model_validate(
        {"resource_code": "r", "select": [{"agg": "count"}], "where": [where]}
    )
    with pytest.raises(QueryRefused) as refused:
        check(spec, DECLARED)
    assert (refused.value.rule, refused.value.field) == ("query.bad_condition", "where[0].value")


def test_a_column_grouped_twice_is_refused() -> None:
    spec = QuerySpec(resource_code="r", select=[Measure(agg=Aggregate.count_)],
                     group_by=["性别", "性别"])  # fmt: skip
    with pytest.raises(QueryRefused) as refused:
        check(spec, DECLARED)
    assert refused.value.field == "group_by"


def test_result_columns_need_distinct_names() -> None:
    with pytest.raises(QueryRefused) as refused:
        check(parse_sql("SELECT 性别, COUNT(*) AS 性别 FROM t GROUP BY 性别"), DECLARED)
    assert refused.value.field == "select"
    check(parse_sql("SELECT COUNT(*), COUNT(*) AS 人数 FROM t"), DECLARED)
