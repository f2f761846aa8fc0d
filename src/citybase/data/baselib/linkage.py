"""Probabilistic record linkage of persons and enterprises on splink (Fellegi–Sunter, trained by
expectation maximisation), with the comparisons of ``comparisons.py`` as its comparison levels.

No database of the platform is touched here: records come in as ``SourceRecord``s, pairs,
clusters and the trained model go out. ``service.py`` reads the rows and keeps the results.

How a run goes (as ONS, the NHS and the ABS run splink):

1. each record is normalised once (18-digit ID, pinyin and shape of the name, address read
   against the region register, enterprise name core …) into a DuckDB table;
2. the model's u probabilities are estimated from random pairs, the prior from exact ID
   (credit code) agreement, then the m probabilities by EM on two blocking rules that each leave
   the other's comparisons free;
3. candidate pairs come from the readable blocking rules below and are scored, each comparison
   contributing its own match weight (kept per link, shown to the steward);
4. pairs at or above the match threshold are joined into clusters, respecting the stewards'
   decisions: a confirmed pair is joined whatever its score, a split pair is never joined, even
   through a third record; pairs between the review and match thresholds go to the review queue.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from citybase.data.baselib import backends
from citybase.data.baselib import comparisons as cmp


class Kind(StrEnum):
    person = "person"  # 一人一档
    enterprise = "enterprise"  # 一企一档


# data element (数据元) → the field a record carries; item names are accepted where a resource
# names its items after the element without declaring it
PERSON_ELEMENTS = {
    "姓名": "name", "公民身份号码": "citizen_id", "身份证号": "citizen_id",
    "身份证号码": "citizen_id", "手机号码": "mobile", "联系电话": "mobile", "出生日期": "birth",
    "性别": "sex", "地址": "address", "住址": "address", "居住地址": "address",
    "户籍地址": "address",
}  # fmt: skip
ENTERPRISE_ELEMENTS = {
    "统一社会信用代码": "credit_code", "名称": "name", "企业名称": "name", "单位名称": "name",
    "法定代表人": "legal_rep", "注册地址": "address", "住所": "address", "经营地址": "address",
    "成立日期": "founded", "法定代表人证件号码": "legal_rep_id",
    "法定代表人身份证号码": "legal_rep_id",
}  # fmt: skip
ELEMENTS = {Kind.person: PERSON_ELEMENTS, Kind.enterprise: ENTERPRISE_ELEMENTS}
# the field whose number a file is found by
KEY_FIELD = {Kind.person: "citizen_id", Kind.enterprise: "credit_code"}


@dataclass(frozen=True)
class SourceRecord:
    """One row of a registered resource, its items mapped to the library's fields."""

    uid: str  # resource_code#row_no
    resource_code: str
    unit_code: str
    values: dict[str, Any]
    observed_at: str = ""  # ISO time the row was stored


def record_uid(resource_code: str, row_no: int) -> str:
    return f"{resource_code}#{row_no}"


# --- the model -----------------------------------------------------------------------------------


def _null(col: str) -> dict[str, Any]:
    return {
        "sql_condition": f"{col}_l IS NULL OR {col}_r IS NULL",
        "label_for_charts": "缺失",
        "is_null_level": True,
    }


def _level(
    sql: str, label: str, m: float, u: float, tf: str | None = None, *, fix_u: bool = False
) -> dict[str, Any]:
    """A comparison level with its starting m and u probabilities: what a record of the same
    person reaches (m) and what two different people reach (u), before training moves them.
    Below ``MIN_TRAINING_RECORDS`` they are the model."""
    level: dict[str, Any] = {
        "sql_condition": sql, "label_for_charts": label, "m_probability": m, "u_probability": u,
    }  # fmt: skip
    if fix_u:
        level["fix_u_probability"] = True
    if tf:
        level["tf_adjustment_column"] = tf
        level["tf_adjustment_weight"] = 1.0
    return level


def _else(m: float, u: float) -> dict[str, Any]:
    return _level("ELSE", "不同", m, u)


def _comparison(name: str, description: str, levels: list[dict[str, Any]]) -> Any:
    from splink import comparison_library as cl

    given: list[Any] = list(levels)
    return cl.CustomComparison(
        comparison_levels=given, output_column_name=name, comparison_description=description
    )


def _name_levels(col: str, *, tf: bool) -> list[dict[str, Any]]:
    return [
        _null(col),
        _level(f"{col}_l = {col}_r", "姓名相同", 0.85, 0.002, col if tf else None),
        _level(f"{col}_py_l = {col}_py_r", "同音（拼音相同）", 0.05, 0.0005),
        _level(f"{col}_shape_l = {col}_shape_r", "形近字", 0.02, 0.0001),
        _level(
            f"length({col}_l) = length({col}_r) AND levenshtein({col}_l, {col}_r) = 1",
            "一字之差",
            0.03,
            0.003,
        ),
        _else(0.05, 0.9944),
    ]


def _address_levels() -> list[dict[str, Any]]:
    return [
        _null("addr_key"),
        _level("addr_key_l = addr_key_r", "地址相同", 0.55, 0.0005),
        _level("addr_number_l = addr_number_r", "同路同门牌", 0.1, 0.001),
        _level("addr_road_l = addr_road_r", "同一道路", 0.08, 0.01),
        _level("addr_street_l = addr_street_r", "同一街道（乡镇）", 0.07, 0.05),
        _level("addr_district_l = addr_district_r", "同一区县", 0.1, 0.2),
        _else(0.1, 0.7385),
    ]


def person_comparisons() -> list[Any]:
    return [
        _comparison("citizen_id", "公民身份号码（GB 11643，15 位升 18 位）", [
            _null("id18"),
            # u estimated by sampling (fixing it near zero let borrowed IDs merge people: in
            # the bench, precision fell more than recall rose)
            _level("id18_l = id18_r", "号码相同", 0.9, 1e-7),
            # a mistyped number almost never keeps a valid check character; two valid numbers
            # a digit apart are more often twins (consecutive serials) than a typo
            # the numbers are all 17 (18) characters long, so an edit distance of one is one
            # differing position (hamming, linear: checked first, the edit distances only
            # where it allows)
            _level("hamming(id17_l, id17_r) = 2 AND damerau_levenshtein(id17_l, id17_r) = 1 "
                   "AND (id_ok_l = '0' OR id_ok_r = '0')", "相邻两位颠倒", 0.02, 1e-8, fix_u=True),
            _level("(hamming(id17_l, id17_r) = 1 OR hamming(id18_l, id18_r) = 1) "
                   "AND (id_ok_l = '0' OR id_ok_r = '0')", "一位不同（校验码不符）", 0.03, 1e-7,
                   fix_u=True),
            _else(0.05, 0.999999),
        ]),
        _comparison("name", "姓名（字、拼音、字形）", _name_levels("name", tf=True)),
        # as recorded: the birth date and sex written in the ID would count the ID twice
        _comparison("birth", "出生日期（登记值）", [
            _null("birth_rec"),
            _level("birth_rec_l = birth_rec_r", "相同", 0.93, 0.00005),
            _level("substr(birth_rec_l, 1, 7) = substr(birth_rec_r, 1, 7)", "同年同月", 0.03,
                   0.001),
            _else(0.04, 0.99895),
        ]),
        _comparison("sex", "性别（登记值）", [
            _null("sex"), _level("sex_l = sex_r", "相同", 0.98, 0.5), _else(0.02, 0.5),
        ]),
        _comparison("mobile", "手机号码", [
            _null("mobile"),
            _level("mobile_l = mobile_r", "相同", 0.6, 1e-6),
            _level("damerau_levenshtein(mobile_l, mobile_r) = 1", "一位不同或颠倒", 0.05, 1e-6),
            _else(0.35, 0.999998),
        ]),
        _comparison("address", "地址（按区划登记解析）", _address_levels()),
    ]  # fmt: skip


def enterprise_comparisons() -> list[Any]:
    return [
        _comparison("credit_code", "统一社会信用代码（GB 32100）", [
            _null("credit"),
            _level("credit_l = credit_r", "代码相同", 0.9, 1e-7, fix_u=True),
            _level("org_code_l = org_code_r", "组织机构代码相同", 0.04, 1e-7, fix_u=True),
            _level("damerau_levenshtein(credit_l, credit_r) = 1", "一位不同或颠倒", 0.03, 1e-6),
            _else(0.03, 0.999999),
        ]),
        _comparison("name", "企业名称（去区划前缀与组织形式）", [
            _null("core"),
            _level("ename_l = ename_r", "名称相同", 0.7, 0.0005, "ename"),
            _level("core_l = core_r", "字号行业相同", 0.2, 0.001),
            _level("core_py_l = core_py_r", "字号同音", 0.03, 0.0005),
            _level("length(core_l) = length(core_r) AND damerau_levenshtein(core_l, core_r) = 1",
                   "字号一字之差", 0.03, 0.002),
            _else(0.04, 0.996),
        ]),
        _comparison("legal_rep", "法定代表人", _name_levels("rep", tf=False)),
        _comparison("founded", "成立日期", [
            _null("founded"),
            _level("founded_l = founded_r", "相同", 0.9, 0.0003),
            _else(0.1, 0.9997),
        ]),
        _comparison("address", "注册地址（按区划登记解析）", _address_levels()),
    ]  # fmt: skip


# blocking rules the bureau can read: which records are compared at all
PERSON_BLOCKING = (
    "l.id18 = r.id18",
    "l.name_py = r.name_py AND l.birth = r.birth",
    "l.mobile = r.mobile",
    "l.birth = r.birth AND l.addr_street = r.addr_street",
    "l.surname = r.surname AND l.addr_number = r.addr_number",
    # a name (by sound) where an ID is missing or a typo away (one position differs, or two
    # adjacent ones swapped: told by hamming first, which is linear, so that the edit distance
    # is computed only for the few pairs two positions apart, not for every namesake)
    "l.name_py = r.name_py AND (l.id18 IS NULL OR r.id18 IS NULL "
    "OR hamming(l.id17, r.id17) <= 1 "
    "OR (hamming(l.id17, r.id17) = 2 AND damerau_levenshtein(l.id17, r.id17) = 1))",
)
ENTERPRISE_BLOCKING = (
    "l.credit = r.credit",
    "l.org_code = r.org_code",
    "l.core = r.core",
    "l.rep_py = r.rep_py AND l.addr_district = r.addr_district",
)
MIN_TRAINING_RECORDS = 1_000
BLOCKING = {Kind.person: PERSON_BLOCKING, Kind.enterprise: ENTERPRISE_BLOCKING}
# EM rounds: each fixes the comparisons its rule uses and trains the others
TRAINING_BLOCKING = {
    Kind.person: ("l.id18 = r.id18", "l.name_py = r.name_py AND l.birth = r.birth"),
    Kind.enterprise: ("l.credit = r.credit", "l.core = r.core"),
}
DETERMINISTIC = {Kind.person: "l.id18 = r.id18", Kind.enterprise: "l.credit = r.credit"}


# --- preparing records ----------------------------------------------------------------------------


def _none(value: str) -> str | None:
    return value or None


def _address_columns(value: Any, regions: cmp.RegionIndex) -> dict[str, str | None]:
    addr = cmp.parse_address(value, regions)
    if addr == cmp.Address():
        keys: tuple[str, ...] = ("", "", "", "", "", "")
    else:
        road = f"{addr.district}|{addr.road}" if addr.road else ""
        number = f"{road}|{addr.number}" if road and addr.number else ""
        keys = (addr.key(), number, road, addr.street, addr.district, addr.district)
    names = ("addr_key", "addr_number", "addr_road", "addr_street", "addr_district", "_")
    return {n: _none(k) for n, k in zip(names, keys, strict=True) if n != "_"}


def prepare_person(record: SourceRecord, regions: cmp.RegionIndex) -> dict[str, Any]:
    v = record.values
    id18 = cmp.citizen_id(v.get("citizen_id"))
    name = cmp.person_name(v.get("name"))
    recorded_birth = cmp.iso_date(v.get("birth"))
    birth = recorded_birth or cmp.birth_date_of(id18)  # for blocking only
    return {
        "unique_id": record.uid, "source": record.resource_code,
        "id18": _none(id18), "id17": _none(id18[:17]),
        "name": _none(name), "name_py": _none(cmp.name_pinyin(name)),
        "name_shape": _none(cmp.name_shape(name)), "surname": _none(cmp.surname_of(name)),
        "id_ok": ("1" if cmp.citizen_id_valid(id18) else "0") if id18 else None,
        "birth": _none(birth), "birth_rec": _none(recorded_birth),
        "sex": _none(cmp.sex(v.get("sex"))),
        "mobile": _none(cmp.mobile(v.get("mobile"))),
        **_address_columns(v.get("address"), regions),
    }  # fmt: skip


def prepare_enterprise(
    record: SourceRecord, regions: cmp.RegionIndex, region_names: Sequence[str]
) -> dict[str, Any]:
    v = record.values
    credit = cmp.credit_code(v.get("credit_code"))
    ename = cmp.fold(v.get("name"))
    core = cmp.enterprise_core(ename, region_names)
    rep = cmp.person_name(v.get("legal_rep"))
    return {
        "unique_id": record.uid, "source": record.resource_code,
        "credit": _none(credit), "org_code": _none(cmp.organisation_code(credit)),
        "ename": _none(ename), "core": _none(core), "core_py": _none(cmp.name_pinyin(core)),
        "rep": _none(rep), "rep_py": _none(cmp.name_pinyin(rep)),
        "rep_shape": _none(cmp.name_shape(rep)),
        "founded": _none(cmp.iso_date(v.get("founded"))),
        **_address_columns(v.get("address"), regions),
    }  # fmt: skip


class _PerValue:
    """A pure function of one value, computed once per distinct value: a city's records repeat
    their names, addresses and dates many times over (a million records hold a few hundred
    thousand names and addresses), so each is folded, read as pinyin or parsed once."""

    def __init__(self, fn: Callable[[Any], Any]):
        self.fn: Callable[[Any], Any] = fn
        self.seen: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        # by type too: 1, 1.0 and True are equal keys but fold to different text
        key = value if value.__class__ is str else (value.__class__, value)
        try:
            return self.seen[key]
        except KeyError:
            out = self.seen[key] = self.fn(value)
            return out
        except TypeError:  # a value that cannot be a key (a list from a JSON cell)
            return self.fn(value)


def _person_rows(records: Iterable[SourceRecord], regions: cmp.RegionIndex) -> list[dict[str, Any]]:
    """``prepare_person`` for many records, each distinct value normalised once (the same
    functions, so the same result: tested against ``prepare_person``)."""

    def id_parts(value: Any) -> tuple[str | None, ...]:
        id18 = cmp.citizen_id(value)
        ok = ("1" if cmp.citizen_id_valid(id18) else "0") if id18 else None
        return _none(id18), _none(id18[:17]), ok, cmp.birth_date_of(id18)

    def name_parts(value: Any) -> tuple[str | None, ...]:
        name = cmp.person_name(value)
        return (_none(name), _none(cmp.name_pinyin(name)), _none(cmp.name_shape(name)),
                _none(cmp.surname_of(name)))  # fmt: skip

    ids, names = _PerValue(id_parts), _PerValue(name_parts)
    dates, sexes, mobiles = _PerValue(cmp.iso_date), _PerValue(cmp.sex), _PerValue(cmp.mobile)
    addresses = _PerValue(lambda value: _address_columns(value, regions))
    out = []
    for record in records:
        v = record.values
        id18, id17, id_ok, id_birth = ids(v.get("citizen_id"))
        name, name_py, name_shape, surname = names(v.get("name"))
        recorded_birth = dates(v.get("birth"))
        out.append({
            "unique_id": record.uid, "source": record.resource_code,
            "id18": id18, "id17": id17, "name": name, "name_py": name_py,
            "name_shape": name_shape, "surname": surname, "id_ok": id_ok,
            "birth": _none(recorded_birth or id_birth), "birth_rec": _none(recorded_birth),
            "sex": _none(sexes(v.get("sex"))), "mobile": _none(mobiles(v.get("mobile"))),
            **addresses(v.get("address")),
        })  # fmt: skip
    return out


def _enterprise_rows(
    records: Iterable[SourceRecord], regions: cmp.RegionIndex
) -> list[dict[str, Any]]:
    """``prepare_enterprise`` for many records, each distinct value normalised once."""
    region_names = [r.name for r in regions.regions.values()]

    def credit_parts(value: Any) -> tuple[str | None, str | None]:
        credit = cmp.credit_code(value)
        return _none(credit), _none(cmp.organisation_code(credit))

    def name_parts(value: Any) -> tuple[str | None, ...]:
        ename = cmp.fold(value)
        core = cmp.enterprise_core(ename, region_names)
        return _none(ename), _none(core), _none(cmp.name_pinyin(core))

    def rep_parts(value: Any) -> tuple[str | None, ...]:
        rep = cmp.person_name(value)
        return _none(rep), _none(cmp.name_pinyin(rep)), _none(cmp.name_shape(rep))

    credits, names, reps = _PerValue(credit_parts), _PerValue(name_parts), _PerValue(rep_parts)
    dates = _PerValue(cmp.iso_date)
    addresses = _PerValue(lambda value: _address_columns(value, regions))
    out = []
    for record in records:
        v = record.values
        credit, org_code = credits(v.get("credit_code"))
        ename, core, core_py = names(v.get("name"))
        rep, rep_py, rep_shape = reps(v.get("legal_rep"))
        out.append({
            "unique_id": record.uid, "source": record.resource_code,
            "credit": credit, "org_code": org_code, "ename": ename, "core": core,
            "core_py": core_py, "rep": rep, "rep_py": rep_py, "rep_shape": rep_shape,
            "founded": _none(dates(v.get("founded"))), **addresses(v.get("address")),
        })  # fmt: skip
    return out


def prepare(
    kind: Kind, records: Iterable[SourceRecord], regions: cmp.RegionIndex
) -> list[dict[str, Any]]:
    """Every record prepared (``prepare_person`` / ``prepare_enterprise``), each distinct value
    normalised once."""
    if kind is Kind.person:
        return _person_rows(records, regions)
    return _enterprise_rows(records, regions)


# --- running it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoredPair:
    left: str
    right: str
    probability: float
    weight: float
    weights: dict[str, float]  # comparison → its match weight in this pair
    levels: dict[str, str]  # comparison → the level reached (its label)


@dataclass
class ModelSummary:
    """The trained model as the steward sees it: per comparison, per level, its match weight."""

    prior: float
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    blocking_rules: list[str] = field(default_factory=list)
    training_rules: list[str] = field(default_factory=list)
    trained: bool = False
    notes: list[str] = field(default_factory=list)
    # splink's own settings of the trained model (m, u, prior, levels, rules): what an
    # incremental link scores new rows with, without training again
    kept: dict[str, Any] = field(default_factory=dict)


@dataclass
class LinkResult:
    pairs: list[ScoredPair]
    model: ModelSummary


def _to_arrow(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    return pa.table({c: pa.array([r.get(c) for r in rows], type=pa.string()) for c in columns})


def _settings(
    kind: Kind, comparisons: list[Any] | None, blocking: Sequence[str], prior: float
) -> Any:
    from splink import SettingsCreator

    rules: list[Any] = list(blocking)

    return SettingsCreator(
        link_type="dedupe_only",
        probability_two_random_records_match=prior,
        comparisons=comparisons
        or (person_comparisons() if kind is Kind.person else enterprise_comparisons()),
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=False,
    )


def summary_of(
    kept: dict[str, Any], blocking: Sequence[str] = (), training: Sequence[str] = ()
) -> ModelSummary:
    """A model (splink's settings) as the steward reads it: per comparison, per level, its m, u
    and match weight."""
    prior = float(kept.get("probability_two_random_records_match") or 0.0)
    out = ModelSummary(prior=prior, blocking_rules=list(blocking), training_rules=list(training),
                       kept=kept)  # fmt: skip
    for comp in kept["comparisons"]:
        levels = []
        for level in comp["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else None
            levels.append({"label": level.get("label_for_charts", level["sql_condition"]),
                           "m": m, "u": u, "weight": weight})  # fmt: skip
        out.comparisons.append({"name": comp["output_column_name"],
                                "description": comp.get("comparison_description", ""),
                                "levels": levels})  # fmt: skip
    return out


def _summary(
    linker: Any, kind: Kind, blocking: Sequence[str], training: Sequence[str]
) -> ModelSummary:
    # stated in DuckDB's dialect whichever engine trained it: incremental links score on DuckDB
    return summary_of(backends.portable(linker.misc.save_model_to_json()), blocking, training)


def link(
    kind: Kind,
    prepared: list[dict[str, Any]],
    *,
    threshold_probability: float = 0.01,
    comparisons: list[Any] | None = None,
    blocking: Sequence[str] | None = None,
    training: Sequence[str] | None = None,
    seed: int = 1,
    backend: backends.Backend | None = None,
) -> LinkResult:
    """Train the model on ``prepared`` records and score every blocked pair whose probability
    reaches ``threshold_probability`` (the review threshold or lower), on ``backend`` (DuckDB
    when none)."""
    from splink import Linker

    logging.getLogger("splink").setLevel(logging.WARNING)
    if len(prepared) < 2:
        return LinkResult([], ModelSummary(prior=0.0))
    blocking = tuple(blocking or BLOCKING[kind])
    training = tuple(training if training is not None else TRAINING_BLOCKING[kind])
    with backends.opened(backend) as db:
        linker = Linker(
            db.register("records", _to_arrow(prepared, list(prepared[0]))),
            _settings(kind, comparisons, blocking, min(0.5, 2.0 / len(prepared))),
            log_level=logging.WARNING,
        )
        notes = _train(linker, kind, len(prepared), blocking, training, seed)
        model = _summary(linker, kind, blocking, training)
        model.trained, model.notes = not notes, notes
        scored = linker.inference.predict(threshold_match_probability=threshold_probability)
        pairs = scored_pairs(db.relation(scored), model)
    return LinkResult(pairs, model)


def _train(
    linker: Any, kind: Kind, records: int, blocking: Sequence[str], training: Sequence[str],
    seed: int,
) -> list[str]:  # fmt: skip
    """Estimate the prior, then u by random sampling, then m by EM on each training rule. With
    too few records, or where a step finds nothing to learn from, the starting parameters stay
    (said in the returned notes, shown with the model)."""
    if records < MIN_TRAINING_RECORDS:
        return [f"{records} records (< {MIN_TRAINING_RECORDS}): the starting parameters are used"]
    notes = []
    steps: list[tuple[str, Any]] = [
        ("prior", lambda: linker.training.estimate_probability_two_random_records_match(
            [DETERMINISTIC[kind]] if DETERMINISTIC[kind] in blocking else [blocking[0]],
            recall=0.8)),
        ("u", lambda: linker.training.estimate_u_using_random_sampling(
            max_pairs=min(2e6, 50.0 * records), seed=seed)),
    ]  # fmt: skip
    for rule in training:
        steps.append((f"EM on {rule}", lambda rule=rule: (
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, record_sample_proportion=1.0 if records < 200_000 else 0.2))))  # fmt: skip
    for name, step in steps:
        try:
            step()
        except Exception as exc:  # splink raises several kinds where data gives it nothing
            notes.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
    return notes


def _level_of(weight: float, levels: list[dict[str, Any]]) -> str:
    """The level a pair reached in a comparison, told by its weight (a null level weighs 0)."""
    if weight == 0.0:
        return "缺失"
    known = [lv for lv in levels if lv["weight"] is not None]
    if not known:
        return ""
    return str(min(known, key=lambda lv: abs(lv["weight"] - weight))["label"])


def scored_pairs(relation: Any, model: ModelSummary) -> list[ScoredPair]:
    names = [c["name"] for c in model.comparisons]
    levels_of = {c["name"]: c["levels"] for c in model.comparisons}
    cols = relation.columns
    wanted = ["unique_id_l", "unique_id_r", "match_probability", "match_weight"]
    wanted += [f"mw_{n}" for n in names if f"mw_{n}" in cols]
    wanted += [f"mw_tf_adj_{n}" for n in names if f"mw_tf_adj_{n}" in cols]
    # fetched a column at a time (no tuple per row), each level told once per distinct weight
    table = relation.select(*wanted).to_arrow_table()
    column = {c: table.column(c).to_pylist() for c in wanted}
    zeros = [None] * table.num_rows
    comparisons = []
    for n in names:
        label: dict[float, str] = {}
        for base in set(column.get(f"mw_{n}", zeros)):
            label[float(base or 0.0)] = _level_of(float(base or 0.0), levels_of[n])
        comparisons.append((n, column.get(f"mw_{n}", zeros), column.get(f"mw_tf_adj_{n}", zeros),
                            label))  # fmt: skip
    out = []
    lefts, rights = column["unique_id_l"], column["unique_id_r"]
    probabilities, match_weights = column["match_probability"], column["match_weight"]
    for i in range(table.num_rows):
        weights, levels = {}, {}
        for n, base_of, tf_of, label in comparisons:
            base = float(base_of[i] or 0.0)
            levels[n] = label[base]
            weights[n] = round(base + float(tf_of[i] or 0.0), 3)
        left, right = lefts[i], rights[i]
        if right < left:
            left, right = right, left
        out.append(ScoredPair(left, right, float(probabilities[i]), float(match_weights[i]),
                              weights, levels))  # fmt: skip
    return out


# --- clusters ---------------------------------------------------------------------------------------


def cluster(
    uids: Iterable[str],
    pairs: Iterable[ScoredPair],
    threshold: float,
    *,
    confirmed: Iterable[tuple[str, str]] = (),
    split: Iterable[tuple[str, str]] = (),
) -> dict[str, str]:
    """Each record's cluster (the smallest uid in it). Confirmed pairs are joined first; then
    pairs at or above ``threshold``, strongest first, unless the join would put two records a
    steward split into one cluster."""
    parent: dict[str, str] = {u: u for u in uids}
    forbidden: dict[str, set[str]] = {}  # root → records its cluster must not take in
    for a, b in split:
        if a in parent and b in parent:
            forbidden.setdefault(a, set()).add(b)
            forbidden.setdefault(b, set()).add(a)
    if not forbidden:  # nothing kept apart: the order of joining does not matter
        return _components(parent, pairs, threshold, confirmed)

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        if any(find(x) == rb for x in forbidden.get(ra, ())):
            return
        keep, gone = (ra, rb) if ra < rb else (rb, ra)
        parent[gone] = keep
        merged = forbidden.pop(ra, set()) | forbidden.pop(rb, set())
        if merged:
            forbidden[keep] = merged

    for a, b in confirmed:
        if a in parent and b in parent:
            union(a, b)
    for pair in sorted(pairs, key=lambda p: -p.probability):
        if pair.probability < threshold:
            break
        if pair.left in parent and pair.right in parent:
            union(pair.left, pair.right)
    roots = {u: find(u) for u in parent}
    smallest: dict[str, str] = {}
    for uid, root in roots.items():
        if root not in smallest or uid < smallest[root]:
            smallest[root] = uid
    return {uid: smallest[root] for uid, root in roots.items()}


def _components(
    records: dict[str, str],
    pairs: Iterable[ScoredPair],
    threshold: float,
    confirmed: Iterable[tuple[str, str]],
) -> dict[str, str]:
    """``cluster`` where no pair is split: the connected components of the confirmed pairs and
    the pairs at or above the threshold (scipy's, in C, rather than a union-find in Python),
    each named by its smallest uid."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    uids = list(records)
    number = {u: i for i, u in enumerate(uids)}
    left, right = [], []
    for a, b in confirmed:
        if a in number and b in number:
            left.append(number[a])
            right.append(number[b])
    for pair in pairs:
        if pair.probability >= threshold and pair.left in number and pair.right in number:
            left.append(number[pair.left])
            right.append(number[pair.right])
    size = len(uids)
    graph = coo_matrix(
        (np.ones(len(left), dtype=np.int8), (np.array(left, dtype=np.int64),
                                             np.array(right, dtype=np.int64))),
        shape=(size, size),
    )  # fmt: skip
    _, labels = connected_components(graph, directed=False)
    smallest: dict[int, str] = {}
    for uid, label in zip(uids, labels.tolist(), strict=True):
        if label not in smallest or uid < smallest[label]:
            smallest[label] = uid
    return {uid: smallest[label] for uid, label in zip(uids, labels.tolist(), strict=True)}
