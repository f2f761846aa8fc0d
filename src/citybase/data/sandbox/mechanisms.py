"""Answers computed with OpenDP (its Polars API): the measurement is OpenDP's, its privacy loss
is OpenDP's privacy map, and the accuracy is OpenDP's ``summarize(alpha=0.05)``. Nothing here adds
noise of its own. Pure: rows in, an answer out.

The privacy unit is one value of the declared identifier column; each query keeps at most
``max_rows_per_person`` rows of each (``truncate_per_group``), groups by the declared public keys
(``with_keys``, so that no key's presence leaks), clips numeric values to their declared bounds.

OpenDP and Polars are imported here, inside the functions, so that the command line starts fast.
"""

from __future__ import annotations

import math
from itertools import product
from typing import Any

from citybase.data.sandbox.dialect import QueryRefused
from citybase.data.sandbox.schemas import (
    Accuracy,
    Aggregate,
    Answer,
    Condition,
    DeclarationBase,
    Measure,
    Op,
    QuerySpec,
)

ID = "__person__"
ALPHA = 0.05
MAX_ROWS = 1_000_000  # rows one query may read; the margin OpenDP is told
MAX_GROUPS = 2_000
QUANTILE_CANDIDATES = 101


def used_columns(spec: QuerySpec) -> list[str]:
    names = list(spec.group_by) + [m.column for m in spec.select if m.column]
    names += [c.column for c in spec.where]
    return list(dict.fromkeys(names))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def frame(rows: list[dict[str, Any]], identifier: str, declared: DeclarationBase,
          columns: list[str]) -> Any:  # fmt: skip
    """The rows as a Polars frame, made small because OpenDP serializes it whole into its
    measurement: the identifier as a 64-bit hash of its text (two people sharing a hash are one
    privacy unit: the bound only tightens), a categorical column as the position of its value
    among the declared keys (a value outside them is missing), a numeric one as a float (a value
    that is no number is missing)."""
    import polars as pl

    people = pl.Series(ID, ["" if r.get(identifier) is None else str(r[identifier]) for r in rows],
                       dtype=pl.String).hash(seed=0)  # fmt: skip
    data: dict[str, Any] = {ID: people}
    for name in columns:
        if name in declared.numeric:
            data[name] = pl.Series(name, [_number(r.get(name)) for r in rows], dtype=pl.Float64)
        else:
            position = {key: i for i, key in enumerate(declared.categorical[name])}
            codes = [None if r.get(name) is None else position.get(str(r[name])) for r in rows]
            data[name] = pl.Series(name, codes, dtype=pl.UInt32)
    return pl.DataFrame(data)


def encode(data: Any, declared: DeclarationBase, identifier: str = ID) -> Any:
    """A frame of text columns (an identifier, categorical values) encoded as ``frame`` does."""
    import polars as pl

    columns = [pl.col(identifier).cast(pl.String).hash(seed=0).alias(ID)]
    for name in data.columns:
        if name in declared.categorical:
            keys = pl.Series(declared.categorical[name], dtype=pl.String)
            codes = pl.Series(range(len(keys)), dtype=pl.UInt32)
            columns.append(pl.col(name).replace_strict(keys, codes, default=None,
                                                       return_dtype=pl.UInt32))  # fmt: skip
        elif name in declared.numeric:
            columns.append(pl.col(name).cast(pl.Float64, strict=False))
    return data.select(columns)


def _condition(cond: Condition, declared: DeclarationBase) -> Any:
    import polars as pl

    column = pl.col(cond.column)
    if cond.column in declared.numeric:
        value: Any = float(cond.value) if not isinstance(cond.value, list) else None
    else:  # compared by position among the keys; a value outside them matches no row
        keys = declared.categorical[cond.column]
        code = {key: i for i, key in enumerate(keys)}
        asked = cond.value if isinstance(cond.value, list) else [cond.value]
        positions = [code.get(str(v), len(keys)) for v in asked]
        value = positions if isinstance(cond.value, list) else positions[0]
    match cond.op:
        case Op.eq:
            return column == value
        case Op.ne:
            return column != value
        case Op.lt:
            return column < value
        case Op.le:
            return column <= value
        case Op.gt:
            return column > value
        case Op.ge:
            return column >= value
        case Op.in_:  # OpenDP takes no is_in: one equality per value
            values = value if isinstance(value, list) else [value]
            either = column == values[0]
            for other in values[1:]:
                either = either | (column == other)
            return either


def _expression(i: int, measure: Measure, declared: DeclarationBase) -> Any:
    import polars as pl

    dp = _opendp()

    alias = f"m{i}"
    if measure.agg is Aggregate.count_:
        return dp.len(signed=False).alias(alias)
    assert measure.column is not None
    bounds = declared.numeric[measure.column]
    lo, hi = bounds.lower, bounds.upper
    value: Any = pl.col(measure.column).fill_null(
        min(max(0.0, lo), hi)
    )  # a missing value: 0, clipped
    if measure.agg is Aggregate.sum:
        return value.dp.sum((lo, hi)).alias(alias)
    if measure.agg is Aggregate.avg:
        return value.dp.mean((lo, hi)).alias(alias)
    step = (hi - lo) / (QUANTILE_CANDIDATES - 1)
    candidates = [lo + step * k for k in range(QUANTILE_CANDIDATES)]
    return value.dp.quantile(measure.q, candidates).alias(alias)


def _opendp() -> Any:
    """The parts of OpenDP used here (not its prelude, which imports every extra it has and
    takes seconds); untyped for mypy, as its Polars plugin adds ``.dp`` to expressions."""
    from types import SimpleNamespace

    from opendp import context, measurements
    from opendp.extras import polars as dp_polars
    from opendp.mod import enable_features

    enable_features("contrib")
    return SimpleNamespace(
        Context=context.Context, unit_of=context.unit_of, loss_of=context.loss_of,
        polars=dp_polars, len=dp_polars.dp_len, m=measurements,
    )  # fmt: skip


def _keys(spec: QuerySpec, declared: DeclarationBase) -> list[tuple[str, ...]]:
    lists = [declared.categorical[c] for c in spec.group_by]
    count = math.prod(len(v) for v in lists)
    if count > MAX_GROUPS:
        raise QueryRefused("query.too_many_groups", (
            f"{count} groups: the sandbox answers at most {MAX_GROUPS} at once"
        ), field="group_by")  # fmt: skip
    return list(product(*lists))


def _calibrated(make: Any, d_in: Any, epsilon: float) -> Any:
    """The measurement whose privacy loss, by OpenDP's own map, is at most ``epsilon``: the
    loss of pure-DP noise falls as its scale grows, so one measurement at scale 1 tells the
    scale; the map is checked again (and the scale nudged up) for rounding."""
    probe = make(1.0)
    scale = float(probe.map(d_in)) / epsilon
    for _ in range(20):
        measurement = make(scale)
        if float(measurement.map(d_in)) <= epsilon:
            return measurement
        scale *= 1 + 1e-9
    raise QueryRefused("query.calibration", "OpenDP could not calibrate this query", status=422)


def answer(spec: QuerySpec, declared: DeclarationBase, data: Any, epsilon: float) -> Answer:
    """Release ``spec`` over ``data`` (a frame from ``frame``) at privacy loss ``epsilon``; a
    query OpenDP cannot make private is refused and nothing is released."""
    from opendp.mod import OpenDPException
    from polars.exceptions import PolarsError

    try:
        return _answer(spec, declared, data, epsilon)
    except (OpenDPException, PolarsError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise QueryRefused(
            "query.unsupported",
            (f"OpenDP cannot answer this query privately: {reason}"),
            field="sql",
        ) from exc


def _answer(spec: QuerySpec, declared: DeclarationBase, data: Any, epsilon: float) -> Answer:
    import polars as pl
    from opendp.accuracy import summarize_polars_measurement

    dp = _opendp()
    keys = _keys(spec, declared) if spec.group_by else []
    # the measurement is built over the frame's schema alone (building it over the data would
    # serialize the rows at every step); it is then applied to the rows once
    context = dp.Context.compositor(
        data=data.clear().lazy(),
        privacy_unit=dp.unit_of(contributions=1, identifier=ID),
        privacy_loss=dp.loss_of(epsilon=epsilon),
        split_evenly_over=1,
        margins=[dp.polars.Margin(by=[], max_length=MAX_ROWS)],
    )
    query = context.query()
    for cond in spec.where:
        query = query.filter(_condition(cond, declared))
    query = query.truncate_per_group(declared.max_rows_per_person, by=[ID])
    aggregates = [_expression(i, m, declared) for i, m in enumerate(spec.select)]
    if spec.group_by:
        position = {c: {key: i for i, key in enumerate(declared.categorical[c])}
                    for c in spec.group_by}  # fmt: skip
        public = pl.LazyFrame(
            {c: [position[c][k[j]] for k in keys] for j, c in enumerate(spec.group_by)},
            schema={c: pl.UInt32 for c in spec.group_by},
        )
        query = query.group_by(spec.group_by).agg(*aggregates).with_keys(public)
    else:
        query = query.select(*aggregates)
    plan = object.__getattribute__(query, "polars_plan")
    inner = object.__getattribute__(query, "_query")
    domain, metric = inner._chain

    def make(scale: float) -> Any:
        return dp.m.make_private_lazyframe(domain, metric, inner._output_measure, plan,
                                           global_scale=scale)  # fmt: skip

    measurement = _calibrated(make, inner._d_in, epsilon)
    spent = float(measurement.map(inner._d_in))
    summary = summarize_polars_measurement(measurement, ALPHA)
    released = measurement(data.lazy()).collect()
    titles = {f"m{i}": m.title() for i, m in enumerate(spec.select)}
    names = {f"m{i}": m for i, m in enumerate(spec.select)}
    if spec.group_by:
        released = released.sort(spec.group_by)
    rows: list[dict[str, Any]] = []
    for record in released.to_dicts():
        row: dict[str, Any] = {c: declared.categorical[c][record[c]] for c in spec.group_by}
        for alias, title in titles.items():
            row[title] = _shown(record.get(alias), names[alias])
        rows.append(row)
    accuracy = [
        Accuracy(
            column=titles.get(str(s["column"]), str(s["column"])), statistic=str(s["aggregate"]),
            distribution=str(s["distribution"]), scale=float(s["scale"]),
            accuracy=None if s.get("accuracy") is None else float(s["accuracy"]),
        )
        for s in summary.to_dicts()
    ]  # fmt: skip
    return Answer(
        columns=list(spec.group_by) + list(titles.values()), rows=rows, accuracy=accuracy,
        alpha=ALPHA, epsilon_spent=spent,
    )  # fmt: skip


def _shown(value: Any, measure: Measure) -> Any:
    if value is None:
        return None
    if measure.agg is Aggregate.count_:
        return int(value)
    number = float(value)
    return round(number, 4) if math.isfinite(number) else None
