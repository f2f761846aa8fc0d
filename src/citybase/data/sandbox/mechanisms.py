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


def _calibrated(make: Any, d_in: Any, epsilon: float, power: int = 1) -> Any:
    """The measurement whose privacy loss, by OpenDP's own map, is at most ``epsilon``: the
    loss of pure-DP noise falls as its scale grows (as the scale's square for ρ of Gaussian
    noise: ``power`` 2), so one measurement at scale 1 tells the scale; the map is checked
    again (and the scale nudged up) for rounding."""
    probe = make(1.0)
    scale = (float(probe.map(d_in)) / epsilon) ** (1 / power)
    for _ in range(20):
        measurement = make(scale)
        if float(measurement.map(d_in)) <= epsilon:
            return measurement
        scale *= 1 + 1e-9
    raise QueryRefused("query.calibration", "OpenDP could not calibrate this query", status=422)


def answer(spec: QuerySpec, declared: DeclarationBase, data: Any, epsilon: float,
           delta: float = 0.0) -> Answer:  # fmt: skip
    """Release ``spec`` over ``data`` (a frame from ``frame``) at privacy loss ``epsilon``; a
    query OpenDP cannot make private is refused and nothing is released."""
    from opendp.mod import OpenDPException
    from polars.exceptions import PolarsError

    try:
        return _answer(spec, declared, data, epsilon, delta)
    except (OpenDPException, PolarsError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise QueryRefused(
            "query.unsupported",
            (f"OpenDP cannot answer this query privately: {reason}"),
            field="sql",
        ) from exc


def _answer(spec: QuerySpec, declared: DeclarationBase, data: Any, epsilon: float,
            delta: float) -> Answer:  # fmt: skip
    if all(m.agg is not Aggregate.quantile for m in spec.select):
        return _answer_by_sums(spec, declared, data, epsilon, delta)
    if delta > 0:
        raise QueryRefused("query.unsupported", (
            "δ > 0 (the Gaussian mechanism) answers counts, sums and averages; a quantile is "
            "answered under pure ε-DP only (δ = 0)"
        ), field="delta")  # fmt: skip
    return _answer_by_plan(spec, declared, data, epsilon)


def _answer_by_plan(spec: QuerySpec, declared: DeclarationBase, data: Any, epsilon: float
                    ) -> Answer:  # fmt: skip
    """The answer by one OpenDP Polars plan over the rows: every aggregate, quantiles too."""
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


# --- counts, sums and averages: bounded aggregates, then OpenDP's noise on each vector ----------
#
# The same computation as the plan above, in two steps. First the exact bounded aggregates, by
# Polars: the query's filter, then at most ``max_rows_per_person`` rows of each identifier (a
# random choice among them), missing numbers as 0, values clipped to their bounds, one count or
# sum per public key combination (every key, 0 where the data has none). Then, for each noisy
# statistic, OpenDP's ``make_laplace`` over the vector of the key combinations' values with its
# input metric (L1 distance) and the vector's sensitivity as OpenDP's input distance:
#
# - a count: one person's rows after truncation are at most ``max_rows_per_person`` = k, so
#   adding or removing a person moves the vector of counts by at most k (in L1, and in L2);
# - a sum: each kept value lies in [lower, upper], so the vector of sums moves by at most
#   k × max(|lower|, |upper|).
#
# Sums are computed exactly, in integers: each clipped value rounded to 10^-d (``_digits``) and
# clipped again to the bounds rounded to that grid, so the sensitivity above holds exactly (no
# floating-point error to account for) and the noise is OpenDP's integer (discrete) Laplace;
# the noisy sum is divided by 10^d afterwards. ε is split evenly over the statistics' noises,
# as the plan's ``global_scale`` does, and the loss is the sum of OpenDP's privacy maps (basic
# composition, as the plan's compositor). An average is a noisy sum over a noisy count, each
# with its own share, as in the plan. Quantiles need the rows and go through the plan.

I64_HEADROOM = 2**62


def _digits(bound: float) -> int:
    """Decimal places kept of a summed value: 6, fewer where a sum of ``MAX_ROWS`` values of
    magnitude ``bound`` in units of 10^-d would not fit in 2^62."""
    digits = 6
    while digits > 0 and MAX_ROWS * max(bound, 1.0) * 10**digits > I64_HEADROOM:
        digits -= 1
    return digits


def _units(lower: float, upper: float) -> tuple[int, int, int]:
    """``(d, lower, upper)``: the grid 10^-d and the bounds on it, rounded inwards."""
    digits = _digits(max(abs(lower), abs(upper)))
    scale = 10**digits
    lo, hi = math.ceil(lower * scale - 1e-9), math.floor(upper * scale + 1e-9)
    return digits, lo, min(max(hi, lo), hi)


class _Noise:
    """One noisy statistic: the column it belongs to, what OpenDP calls it, the exact vector's
    column in the bounded frame, its sensitivity and the grid of its values."""

    def __init__(self, alias: str, column: str, statistic: str, sensitivity: int, digits: int):
        self.alias, self.column, self.statistic = alias, column, statistic
        self.sensitivity, self.digits = sensitivity, digits


ROW_BITS = 20  # a row's position, in the low bits of a sort key (MAX_ROWS < 2^20)
BUCKET_BITS = 22  # at most 2^22 buckets (32 MB of counts) to find the rows worth sorting


def _kept(people: Any, k: int) -> Any:
    """Which rows are kept so that no identifier has more than ``k``: a random choice among the
    rows of each identifier that has more (what OpenDP's ``truncate_per_group`` does, done over
    one sorted 64-bit key rather than a group-by over every identifier). The key is the
    identifier's hash without its low ``ROW_BITS`` bits (two people sharing the rest are one
    privacy unit: the bound only tightens) above the row's position; sorted, each identifier's
    rows are one run, and a row past the k-th of its run is dropped.

    Only rows that may belong to an identifier over the bound are sorted: the rows are first
    counted by the top bits of their hash (a bucket holds every row of an identifier, and maybe
    others'), and only the rows of buckets holding more than ``k`` can be over it. Their
    positions are first taken in order, and shuffled only if some identifier has more than k."""
    import numpy as np
    import polars as pl

    n = people.len()
    if n >= 1 << ROW_BITS:
        raise QueryRefused("query.too_large", f"more than {MAX_ROWS} rows", field="sql")
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return pl.Series(keep)
    ids = people.to_numpy()
    # about two buckets a row: the counting and the sort of the crowded rows cost least (1,000,000
    # rows of 400,000 people: 2^21 buckets, 135,000 rows sorted, 15 ms)
    bits = min(BUCKET_BITS, max(8, (2 * n).bit_length()))
    buckets = (ids >> np.uint64(64 - bits)).astype(np.intp)
    crowded = np.flatnonzero(np.bincount(buckets, minlength=1 << bits)[buckets] > k)
    if crowded.size == 0:
        return pl.Series(keep)
    sub = ids[crowded]
    if _past(sub, k, np.arange(sub.size)).size:  # someone has more than k rows: a random k
        order = pl.int_range(sub.size, eager=True, dtype=pl.Int64).shuffle().to_numpy()
        keep[crowded[order[_past(sub, k, order)]]] = False
    return pl.Series(keep)


def _past(ids: Any, k: int, order: Any) -> Any:
    """Positions (into ``order``) of the rows past the k-th of their identifier's run, the rows
    taken in ``order``."""
    import numpy as np
    import polars as pl

    m = ids.size
    low = np.uint64((1 << ROW_BITS) - 1)
    # Polars sorts the 64-bit keys on every core, about twice as fast as NumPy's sort here
    key = pl.Series((ids[order] & ~low) | np.arange(m, dtype=np.uint64)).sort().to_numpy()
    person = key >> np.uint64(ROW_BITS)
    first = np.empty(m, dtype=bool)
    first[0] = True
    np.not_equal(person[1:], person[:-1], out=first[1:])
    index = np.arange(m)
    start = np.maximum.accumulate(np.where(first, index, 0))
    return (key[index - start >= k] & low).astype(np.int64)


def _bounded(spec: QuerySpec, declared: DeclarationBase, data: Any
             ) -> tuple[Any, list[_Noise]]:  # fmt: skip
    """The exact bounded aggregates, one row per public key combination, and the noises."""
    import polars as pl

    k = declared.max_rows_per_person
    filtered = data.lazy()
    for cond in spec.where:
        filtered = filtered.filter(_condition(cond, declared))
    rows = filtered.collect()
    kept = _kept(rows[ID], k)
    query = (rows if kept.all() else rows.filter(kept)).lazy()  # nobody over the bound: no copy
    noises: list[_Noise] = []
    exprs: list[Any] = []
    for i, measure in enumerate(spec.select):
        title = measure.title()
        if measure.agg is Aggregate.count_:
            noises.append(_Noise(f"m{i}", title, "Frame Length", k, 0))
            exprs.append(pl.len().cast(pl.Int64).alias(f"m{i}"))
            continue
        assert measure.column is not None
        bounds = declared.numeric[measure.column]
        digits, lo, hi = _units(bounds.lower, bounds.upper)
        value = (
            pl.col(measure.column).fill_null(min(max(0.0, bounds.lower), bounds.upper))
            .clip(bounds.lower, bounds.upper).mul(10**digits).round(0).cast(pl.Int64).clip(lo, hi)
        )  # fmt: skip
        noises.append(_Noise(f"m{i}", title, "Sum", k * max(abs(lo), abs(hi)), digits))
        exprs.append(value.sum().alias(f"m{i}"))
        if measure.agg is Aggregate.avg:
            noises.append(_Noise(f"m{i}_n", title, "Length", k, 0))
            exprs.append(pl.len().cast(pl.Int64).alias(f"m{i}_n"))
    if not spec.group_by:
        return query.select(exprs).collect(), noises
    keys = _keys(spec, declared)
    position = {c: {key: i for i, key in enumerate(declared.categorical[c])}
                for c in spec.group_by}  # fmt: skip
    public = pl.LazyFrame(
        {c: [position[c][key[j]] for key in keys] for j, c in enumerate(spec.group_by)},
        schema={c: pl.UInt32 for c in spec.group_by},
    )
    grouped = query.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in spec.group_by))
    grouped = grouped.group_by(spec.group_by).agg(exprs)
    exact = public.join(grouped, on=spec.group_by, how="left", maintain_order="left")
    return exact.with_columns(pl.col(n.alias).fill_null(0) for n in noises).collect(), noises


def _zcdp_to_epsilon(rho: float, delta: float) -> float:
    """ε of zero-concentrated DP at ``rho`` as (ε, δ)-DP at ``delta``, by OpenDP's conversion
    (``make_zCDP_to_approxDP``, then ``make_fix_delta``). The conversion depends on ρ alone: it
    is applied to a Gaussian measurement over one number at scale 1, whose privacy map at
    distance √(2ρ) is ρ."""
    from opendp import combinators, domains, measurements, metrics

    reference = measurements.make_gaussian(
        domains.atom_domain(T="f64", nan=False), metrics.absolute_distance(T="f64"), 1.0
    )
    fixed = combinators.make_fix_delta(combinators.make_zCDP_to_approxDP(reference), delta)
    epsilon, _ = fixed.map(math.sqrt(2 * rho))  # type: ignore[no-untyped-call]
    return float(epsilon)


def _rho_for(epsilon: float, delta: float) -> float:
    """The largest ρ (to a relative 10^-9) whose (ε, δ) by OpenDP's conversion is within ε."""
    low, high = 0.0, max(epsilon, 1.0)
    while _zcdp_to_epsilon(high, delta) <= epsilon:
        high *= 2
    for _ in range(80):
        middle = (low + high) / 2
        if _zcdp_to_epsilon(middle, delta) <= epsilon:
            low = middle
        else:
            high = middle
        if high - low <= 1e-9 * high:
            break
    return low


def _gaussian_accuracy(scale: float) -> float:
    """OpenDP's accuracy of integer Gaussian noise. Its exact one sums the distribution and takes
    seconds past a scale of 10^5; there the continuous Gaussian's (OpenDP's too), rounded up and
    plus 1, is given: the two differ by less than 1 from 10 to 10^5."""
    from opendp.accuracy import discrete_gaussian_scale_to_accuracy, gaussian_scale_to_accuracy

    if scale <= 1e5:
        return float(discrete_gaussian_scale_to_accuracy(scale, ALPHA))
    return float(math.ceil(gaussian_scale_to_accuracy(scale, ALPHA)) + 1)


def _answer_by_sums(spec: QuerySpec, declared: DeclarationBase, data: Any, epsilon: float,
                    delta: float = 0.0) -> Answer:  # fmt: skip
    """Pure ε-DP (δ = 0): each vector gets OpenDP's integer Laplace (``make_laplace``, L1
    distance), ε split evenly. δ > 0: each gets OpenDP's integer Gaussian (``make_gaussian``,
    L2 distance — the sensitivities above bound the L2 distance too), in zero-concentrated DP:
    the ρ of the whole is the largest whose (ε, δ) by OpenDP's conversion is within the ε and δ
    asked, split evenly; the ρ spent is the sum of OpenDP's maps, converted again."""
    from opendp.accuracy import discrete_laplacian_scale_to_accuracy

    if data.height > MAX_ROWS:
        raise QueryRefused("query.too_large", f"more than {MAX_ROWS} rows", field="sql")
    dp = _opendp()
    from opendp import domains, metrics

    exact, noises = _bounded(spec, declared, data)
    gaussian = delta > 0
    share = (_rho_for(epsilon, delta) if gaussian else epsilon) / len(noises)
    vectors = domains.vector_domain(domains.atom_domain(T="i64"))
    distance = metrics.l2_distance(T="i64") if gaussian else metrics.l1_distance(T="i64")
    mechanism = dp.m.make_gaussian if gaussian else dp.m.make_laplace
    released: dict[str, list[float]] = {}
    loss = 0.0  # ε (Laplace) or ρ (Gaussian)
    accuracy: list[Accuracy] = []
    for noise in noises:
        made: dict[int, float] = {}

        def make(scale: float, made: dict[int, float] = made) -> Any:
            measurement = mechanism(vectors, distance, scale)
            made[id(measurement)] = scale
            return measurement

        measurement = _calibrated(make, noise.sensitivity, share, power=2 if gaussian else 1)
        loss += float(measurement.map(noise.sensitivity))
        noisy = measurement(exact[noise.alias].to_list())
        unit = 10**noise.digits
        released[noise.alias] = [v / unit for v in noisy]
        scale = made[id(measurement)]
        if gaussian:
            name, within = "Integer Gaussian", _gaussian_accuracy(scale)
        else:
            name, within = "Integer Laplace", discrete_laplacian_scale_to_accuracy(scale, ALPHA)
        accuracy.append(Accuracy(
            column=noise.column, statistic=noise.statistic, distribution=name,
            scale=scale / unit, accuracy=within / unit,
        ))  # fmt: skip
    spent = _zcdp_to_epsilon(loss, delta) if gaussian else loss
    if spent > epsilon:  # the maps' sum rounded past ε: never released
        raise QueryRefused("query.calibration", "OpenDP could not calibrate this query", status=422)
    rows: list[dict[str, Any]] = []
    for r in range(exact.height):
        row: dict[str, Any] = {c: declared.categorical[c][exact[c][r]] for c in spec.group_by}
        for i, measure in enumerate(spec.select):
            value: float | None = released[f"m{i}"][r]
            if measure.agg is Aggregate.count_:
                value = max(
                    released[f"m{i}"][r], 0
                )  # counts clamped at zero, as ``dp.len(signed=False)``
            elif measure.agg is Aggregate.avg:
                count = released[f"m{i}_n"][r]
                value = released[f"m{i}"][r] / count if count > 0 else None
            row[measure.title()] = _shown(value, measure)
        rows.append(row)
    return Answer(
        columns=list(spec.group_by) + [m.title() for m in spec.select], rows=rows,
        accuracy=accuracy, alpha=ALPHA, epsilon_spent=spent, delta_spent=delta,
        rho_spent=loss if gaussian else None,
    )  # fmt: skip
