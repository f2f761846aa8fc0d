"""The same model on Spark (pyspark in local mode) as on DuckDB: the same records give the same
pairs, match weights per comparison, levels, clusters and kept model. One Spark session for the
module; skipped where pyspark or Java is missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from citybase.core.codes import credit_code_check_char
from citybase.core.settings import BaselibSettings, Settings
from citybase.data.baselib import backends, incremental, repository, service
from citybase.data.baselib import comparisons as cmp
from citybase.data.baselib import linkage as lk
from citybase.data.masking import operators as ops
from tests.data.baselib.factories import linked_city
from tests.data.sharing.factories import citizen_id

# one shuffle partition: a dozen records gain nothing from more, and each costs a task
SPARK = backends.Backend(engine=backends.Engine.spark, spark_master="local[2]", spark_partitions=1)
REGIONS = cmp.RegionIndex([
    cmp.Region("350100", "福州市", "city"),
    cmp.Region("350102", "鼓楼区", "district", "350100"),
    cmp.Region("350103", "台江区", "district", "350100"),
    cmp.Region("350102001", "鼓东街道", "street", "350102"),
])  # fmt: skip


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    missing = backends.spark_available()
    if missing:
        pytest.skip(missing)
    session = backends.spark_session(SPARK)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def runs(spark: Any) -> dict[lk.Kind, tuple[list[lk.SourceRecord], lk.LinkResult, lk.LinkResult]]:
    """Each kind's records linked on DuckDB and on Spark (once for the module)."""
    out = {}
    for kind, recs in ((lk.Kind.person, person_records()),
                       (lk.Kind.enterprise, enterprise_records())):  # fmt: skip
        prepared = lk.prepare(kind, recs, REGIONS)
        out[kind] = (recs, lk.link(kind, prepared, threshold_probability=0.001),
                     lk.link(kind, prepared, threshold_probability=0.001, backend=SPARK))  # fmt: skip
    return out


def _swap(value: str, at: int) -> str:
    return value[:at] + value[at + 1] + value[at] + value[at + 2 :]


def _person(uid: str, **values: str) -> lk.SourceRecord:
    return lk.SourceRecord(uid, uid.split("#")[0], "fz.test", values)


def person_records() -> list[lk.SourceRecord]:
    """Every level of every comparison reached at least once: an ID two digits swapped and one
    digit off (check failing), the old 15-digit form, a homophone, a look-alike and a sibling's
    name, a phone one digit off, the same birth month, addresses from the same door to the same
    district."""
    a, b, c, d = citizen_id(1), citizen_id(2), citizen_id(3), citizen_id(4)
    off = a[:10] + str((int(a[10]) + 1) % 10) + a[11:]
    return [
        _person("pol#1", name="张伟", citizen_id=a, birth=a[6:14], sex="男",
                address="福州市鼓楼区鼓东街道五四路12号", mobile="13800000001"),
        _person("hlt#1", name="张玮", citizen_id=_swap(a, 3), mobile="13800000010",
                address="鼓楼五四路12号"),
        _person("hrs#1", name="张伟", citizen_id=off, mobile="13800000001"),
        _person("civ#1", name="张伟", citizen_id=a[:6] + a[8:17], address="鼓楼区五四路12号"),
        _person("pol#2", name="王丽", citizen_id=b, birth=b[6:14], sex="女",
                address="福州市鼓楼区鼓东街道五四路12号"),
        _person("hlt#2", name="玉丽", citizen_id=b, mobile="13900000002",
                address="鼓楼区五四路3号"),
        _person("pol#3", name="张杰", citizen_id=c, birth=c[6:12] + "28", sex="男",
                address="福州市鼓楼区鼓东街道五四路12号"),
        _person("hlt#3", name="张杰", citizen_id="", birth=c[6:14], mobile="13900000003",
                address="鼓楼区湖东路7号"),
        _person("pol#4", name="欧阳明", citizen_id=d, birth=d[6:14], sex="男",
                address="福州市台江区工业路9号"),
        _person("hlt#4", name="欧阳明", citizen_id=d, mobile="13700000004",
                address="台江区工业路9号"),
        _person("hrs#4", name="欧阳敏", citizen_id="", mobile="13700000004"),
    ]  # fmt: skip


def _credit(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


def enterprise_records() -> list[lk.SourceRecord]:
    code, other = _credit("91350102MA2Y00017"), _credit("91350102MA2Y00025")
    reissued = _credit("91350100MA2Y00017")  # same organisation code (positions 9–17)
    rows = [
        ("mkt#1", code, "福州闽江科技有限公司", "林伟", "福州市鼓楼区五四路12号", "2015-03-02"),
        ("tax#1", code.lower(), "闽江科技(福州)有限责任公司", "林玮", "鼓楼五四路12号", ""),
        ("tax#2", other, "福州榕城贸易有限公司", "陈静", "福州市鼓楼区湖东路3号", "2018-01-01"),
        ("stat#1", reissued, "福州闽江科技股份有限公司", "林伟", "", "2015-03-02"),
        ("stat#2", "", "榕城贸易有限公司鼓楼分公司", "陈静", "鼓楼区湖东路3号", ""),
    ]
    return [lk.SourceRecord(uid, uid.split("#")[0], "fz.test", {
        "credit_code": cc, "name": n, "legal_rep": rep, "address": addr, "founded": f})
        for uid, cc, n, rep, addr, f in rows]  # fmt: skip


def _same_model(a: lk.ModelSummary, b: lk.ModelSummary) -> None:
    # the run's own id aside, the kept models are the same (and both stated in DuckDB's terms)
    kept_a = {k: v for k, v in a.kept.items() if k != "linker_uid"}
    kept_b = {k: v for k, v in b.kept.items() if k != "linker_uid"}
    assert kept_a == kept_b
    assert a.comparisons == b.comparisons
    assert (a.prior, a.trained, a.notes) == (b.prior, b.trained, b.notes)


def _same_pairs(a: list[lk.ScoredPair], b: list[lk.ScoredPair]) -> None:
    by_a = {(p.left, p.right): p for p in a}
    by_b = {(p.left, p.right): p for p in b}
    assert set(by_a) == set(by_b)
    for key, pa in by_a.items():
        pb = by_b[key]
        assert pb.probability == pytest.approx(pa.probability, abs=1e-9)
        assert pb.weight == pytest.approx(pa.weight, abs=1e-6)
        assert pb.levels == pa.levels
        assert pb.weights == pytest.approx(pa.weights, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("kind", [lk.Kind.person, lk.Kind.enterprise])
def test_the_same_records_link_the_same_on_spark_as_on_duckdb(
    runs: dict[lk.Kind, Any], kind: lk.Kind
) -> None:
    recs, on_duckdb, on_spark = runs[kind]
    assert on_duckdb.pairs, "nothing was compared: the test would prove nothing"
    _same_pairs(on_duckdb.pairs, on_spark.pairs)
    _same_model(on_duckdb.model, on_spark.model)
    uids = [r.uid for r in recs]
    clusters = lk.cluster(uids, on_spark.pairs, 0.99)
    assert clusters == lk.cluster(uids, on_duckdb.pairs, 0.99)
    assert len(set(clusters.values())) < len(uids)  # some records were joined
    # every custom level ran on Spark, Java similarity functions included
    reached = {(c, lv) for p in on_spark.pairs for c, lv in p.levels.items()}
    if kind is lk.Kind.person:
        assert {("citizen_id", "相邻两位颠倒"), ("citizen_id", "一位不同（校验码不符）"),
                ("name", "同音（拼音相同）"), ("name", "形近字"), ("name", "一字之差"),
                ("birth", "同年同月"), ("mobile", "一位不同或颠倒"),
                ("address", "同路同门牌")} <= reached  # fmt: skip
    else:
        assert {("credit_code", "组织机构代码相同"), ("name", "字号行业相同"),
                ("legal_rep", "同音（拼音相同）")} <= reached  # fmt: skip


@pytest.mark.slow
def test_a_model_trained_on_spark_scores_new_rows_on_duckdb(runs: dict[lk.Kind, Any]) -> None:
    """Incremental links run on DuckDB with the kept model, whichever engine trained it."""
    recs, _, on_spark = runs[lk.Kind.person]
    prepared = lk.prepare(lk.Kind.person, recs, REGIONS)
    existing, new = prepared[:-1], prepared[-1:]
    kept = on_spark.model.kept
    assert kept["sql_dialect"] == "duckdb"
    assert new[0]["unique_id"] == "hrs#4"
    pairs = incremental.score_new(lk.Kind.person, kept, existing, new, {},
                                  threshold_probability=0.001)  # fmt: skip
    assert any({p.left, p.right} == {"hlt#4", "hrs#4"} for p in pairs)


@pytest.mark.slow
def test_a_run_on_spark_keeps_every_file_a_duckdb_run_made(
    spark: Any, session: Session, settings: Settings
) -> None:
    """The service path: the setting chooses the engine; the files, each link's weights and
    levels, the review queue and the kept model come out the same."""
    city = linked_city(session, settings)
    keys = ops.keys_for(settings.masking_key)

    def outcome() -> tuple[Any, ...]:
        links = {link.record_uid: (link.entity_id, link.partner_uid, link.levels,
                                   round(link.probability or 0.0, 9),
                                   {k: round(v, 3) for k, v in link.weights.items()})
                 for link in repository.links(session, "person")}  # fmt: skip
        reviews = {(r.left_uid, r.right_uid, round(r.probability, 9))
                   for r in repository.all_reviews(session, "person")}  # fmt: skip
        return links, reviews

    first = service.link_base_library(session, city.steward, lk.Kind.person, settings.baselib,
                                      keys)  # fmt: skip
    before = outcome()
    settings.baselib.backend = "spark"
    second = service.link_base_library(session, city.steward, lk.Kind.person, settings.baselib,
                                       keys)  # fmt: skip
    assert (second.records, second.entities, second.pairs, second.reviews) == (
        first.records, first.entities, first.pairs, first.reviews)  # fmt: skip
    assert outcome() == before
    # what each run kept of its own (its reads' access ids, the disputes it raised, its ledger
    # entry) differs; the model does not
    own = ("kept", "seconds", "reads", "disputes", "ledger")
    assert {k: v for k, v in second.model.items() if k not in own} == {
        k: v for k, v in first.model.items() if k not in own}  # fmt: skip

    def read_rows(model: dict[str, Any]) -> list[tuple[str, int]]:
        return [(r["resource_code"], r["rows"]) for r in model["reads"]]

    assert read_rows(second.model) == read_rows(first.model)


def test_duckdb_stays_the_default_and_spark_is_chosen_by_setting() -> None:
    assert backends.from_settings(BaselibSettings()) == backends.DUCKDB
    chosen = backends.from_settings(BaselibSettings(backend="spark", spark_master="spark://m:7077"))
    assert (chosen.engine, chosen.spark_master) == (backends.Engine.spark, "spark://m:7077")
    with pytest.raises(ValueError, match="backend"):
        BaselibSettings(backend="hadoop")  # type: ignore[arg-type]


def test_spark_is_said_to_be_missing_without_pyspark_or_java(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    import shutil

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pyspark" else real(name, *a))  # fmt: skip
    assert "pyspark" in backends.spark_available()
    monkeypatch.setattr(importlib.util, "find_spec", real)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    assert "Java" in backends.spark_available()
