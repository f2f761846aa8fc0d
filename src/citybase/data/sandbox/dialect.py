"""The sandbox's SQL dialect, read with sqlglot into a ``QuerySpec``, and the checks of a query
against what the steward declared. Pure: no database, no data.

    SELECT 性别, COUNT(*), SUM(罚款金额), AVG(罚款金额), MEDIAN(罚款金额), QUANTILE(罚款金额, 0.9)
    FROM "<resource code>" WHERE 罚款金额 >= 100 AND 性别 IN ('男', '女') GROUP BY 性别

Only aggregates and the GROUP BY columns may be selected; WHERE is comparisons of a declared
column with a constant joined by AND. A refusal names the rule and the field at fault.
"""

from __future__ import annotations

from typing import Any

from citybase.core.errors import CitybaseError
from citybase.data.sandbox.schemas import (
    Aggregate,
    Condition,
    DeclarationBase,
    Measure,
    Op,
    QuerySpec,
    Value,
)


class QueryRefused(CitybaseError):
    """A query (or a grant's use) the sandbox does not answer: nothing is computed, the attempt
    is kept. ``rule`` names what refused it."""

    def __init__(self, rule: str, message: str, *, status: int = 422, field: str | None = None):
        super().__init__(message, field=field, rule=rule)
        self.rule = rule
        self.status_code = status
        self.code = {403: "forbidden", 404: "not_found", 422: "invalid"}.get(status, "refused")


def _syntax(message: str) -> QueryRefused:
    return QueryRefused("query.syntax", message, field="sql")


def _unsupported(what: str) -> QueryRefused:
    return QueryRefused("query.unsupported", f"{what} is not supported in the sandbox's SQL",
                        field="sql")  # fmt: skip


_COMPARISONS: dict[str, Op] = {
    "EQ": Op.eq, "NEQ": Op.ne, "LT": Op.lt, "LTE": Op.le, "GT": Op.gt, "GTE": Op.ge,
}  # fmt: skip


def parse_sql(text: str) -> QuerySpec:
    """``text`` read into a structured query, or ``QueryRefused`` naming what is wrong."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        statements = [s for s in sqlglot.parse(text) if s is not None]
    except SqlglotError as exc:
        raise _syntax(f"not SQL the sandbox can read: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise _syntax("one SELECT statement, please")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise QueryRefused("query.not_select", "only SELECT is asked of the sandbox", field="sql")
    for part, name in (("joins", "JOIN"), ("having", "HAVING"), ("order", "ORDER BY"),
                       ("limit", "LIMIT"), ("distinct", "DISTINCT"), ("with_", "WITH"),
                       ("offset", "OFFSET")):  # fmt: skip
        if tree.args.get(part):
            raise _unsupported(name)
    source = tree.args.get("from_") or tree.args.get("from")
    table = source.this if source is not None else None
    if not isinstance(table, exp.Table) or table.args.get("db"):
        raise _unsupported("a FROM other than one resource code")
    group_by = [_column_name(c) for c in (tree.args["group"].expressions
                                          if tree.args.get("group") else [])]  # fmt: skip
    select: list[Measure] = []
    for item in tree.expressions:
        label = ""
        if isinstance(item, exp.Alias):
            label, item = item.alias, item.this
        if isinstance(item, exp.Column):
            name = _column_name(item)
            if name not in group_by:
                raise QueryRefused(
                    "query.non_aggregate",
                    f"{name} is a row value: the sandbox answers only aggregates (COUNT, SUM, "
                    "AVG, MEDIAN, QUANTILE) and the GROUP BY columns",
                    field=name,
                )
            continue  # a group column: shown with its keys
        select.append(_measure(item, label))
    if not select:
        raise QueryRefused("query.non_aggregate", "select at least one aggregate", field="sql")
    where = tree.args.get("where")
    conditions = _conditions(where.this) if where is not None else []
    try:
        return QuerySpec(resource_code=table.name, select=select, group_by=group_by,
                         where=conditions)  # fmt: skip
    except ValueError as exc:
        raise _syntax(f"the query is too large or malformed: {exc}") from exc


def _column_name(node: Any) -> str:
    from sqlglot import exp

    if not isinstance(node, exp.Column) or node.table:
        raise _unsupported(f"{node.sql() if isinstance(node, exp.Expression) else node}")
    return str(node.name)


def _measure(node: Any, label: str) -> Measure:
    from sqlglot import exp

    if isinstance(node, exp.Count):
        if not isinstance(node.this, exp.Star) and not (
            isinstance(node.this, exp.Literal) and node.this.this == "1"
        ):
            raise _unsupported(f"{node.sql()} (count rows with COUNT(*))")
        return Measure(agg=Aggregate.count_, label=label)
    if isinstance(node, exp.Sum | exp.Avg):
        agg = Aggregate.sum if isinstance(node, exp.Sum) else Aggregate.avg
        return Measure(agg=agg, column=_column_name(node.this), label=label)
    if isinstance(node, exp.Median):
        return Measure(agg=Aggregate.quantile, column=_column_name(node.this), q=0.5, label=label)
    if isinstance(node, exp.Quantile):
        q = node.args.get("quantile")
        try:
            value = float(q.this) if isinstance(q, exp.Literal) and not q.is_string else -1.0
        except ValueError:
            value = -1.0
        if not 0 < value < 1:
            raise QueryRefused("query.syntax", "QUANTILE(column, q) takes q between 0 and 1",
                               field="sql")  # fmt: skip
        return Measure(agg=Aggregate.quantile, column=_column_name(node.this), q=value,
                       label=label)  # fmt: skip
    if isinstance(node, exp.AggFunc):
        raise _unsupported(f"{node.sql()}")
    raise QueryRefused(
        "query.non_aggregate",
        f"{node.sql()} is not an aggregate: the sandbox answers COUNT(*), SUM, AVG, MEDIAN and "
        "QUANTILE over declared columns",
        field="sql",
    )


def _literal(node: Any) -> Value:
    from sqlglot import exp

    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal):
        return -float(node.this.this)
    if isinstance(node, exp.Literal):
        return str(node.this) if node.is_string else float(node.this)
    raise _unsupported(f"{node.sql()} (compare a column with a constant)")


def _conditions(node: Any) -> list[Condition]:
    from sqlglot import exp

    if isinstance(node, exp.Paren):
        return _conditions(node.this)
    if isinstance(node, exp.And):
        return _conditions(node.this) + _conditions(node.expression)
    if isinstance(node, exp.In) and not node.args.get("query"):
        values = [_literal(v) for v in node.expressions]
        return [Condition(column=_column_name(node.this), op=Op.in_, value=values)]
    op = _COMPARISONS.get(type(node).__name__.upper())
    if op is None:
        raise _unsupported(f"{node.sql()} in WHERE (use =, !=, <, <=, >, >=, IN joined by AND)")
    return [Condition(column=_column_name(node.this), op=op, value=_literal(node.expression))]


def check(spec: QuerySpec, declared: DeclarationBase) -> None:
    """Every column the query touches is declared for what it does there: group and compare
    categorical columns by their keys, aggregate and compare numeric ones."""
    categorical, numeric = declared.categorical, declared.numeric

    def undeclared(column: str, field: str, as_what: str) -> QueryRefused:
        known = ", ".join(list(categorical) + list(numeric)) or "none"
        return QueryRefused(
            "query.undeclared_column",
            f"{column} is not declared {as_what} for the sandbox (declared: {known})",
            field=field,
        )

    if len(set(spec.group_by)) != len(spec.group_by):
        raise QueryRefused("query.syntax", "a column is grouped by twice", field="group_by")
    for i, column in enumerate(spec.group_by):
        if column not in categorical:
            raise undeclared(column, f"group_by[{i}]", "as a categorical column")
    titles = [*spec.group_by, *(m.title() for m in spec.select)]
    if len(set(titles)) != len(titles):
        raise QueryRefused("query.syntax", (
            f"two result columns share a name ({', '.join(titles)}): give one an alias"
        ), field="select")  # fmt: skip
    for i, measure in enumerate(spec.select):
        if measure.agg is Aggregate.count_:
            continue
        if measure.column is None or measure.column not in numeric:
            raise undeclared(str(measure.column), f"select[{i}].column", "as a numeric column")
        if measure.agg is Aggregate.quantile and measure.q is None:
            raise QueryRefused("query.syntax", "a quantile names q", field=f"select[{i}].q")
    for i, cond in enumerate(spec.where):
        values = cond.value if isinstance(cond.value, list) else [cond.value]
        if isinstance(cond.value, list) != (cond.op is Op.in_) or not values:
            raise QueryRefused("query.bad_condition", (
                f"{cond.column}: IN takes a list of values, the other comparisons one value"
            ), field=f"where[{i}].value")  # fmt: skip
        if cond.column in categorical:
            if cond.op not in (Op.eq, Op.ne, Op.in_):
                raise QueryRefused("query.bad_condition", (
                    f"{cond.column} is categorical: compare it with =, != or IN"
                ), field=f"where[{i}].op")  # fmt: skip
            continue
        if cond.column not in numeric:
            raise undeclared(cond.column, f"where[{i}].column", "as a column")
        if cond.op is Op.in_ or any(isinstance(v, str) for v in values):
            raise QueryRefused("query.bad_condition", (
                f"{cond.column} is numeric: compare it with a number (=, !=, <, <=, >, >=)"
            ), field=f"where[{i}].value")  # fmt: skip
