from __future__ import annotations

from citybase.core.codes import credit_code_check_char
from citybase.data.baselib import comparisons as cmp
from citybase.data.baselib import linkage as lk

REGIONS = cmp.RegionIndex([
    cmp.Region("350100", "福州市", "city"),
    cmp.Region("350102", "鼓楼区", "district", "350100"),
])  # fmt: skip


def _pair(uid_a: str, uid_b: str, p: float) -> lk.ScoredPair:
    a, b = sorted((uid_a, uid_b))
    return lk.ScoredPair(a, b, p, 0.0, {}, {})


def test_a_split_pair_is_never_joined_even_through_a_third_record() -> None:
    pairs = [_pair("a", "c", 0.999), _pair("b", "c", 0.998), _pair("a", "b", 0.999)]
    free = lk.cluster(["a", "b", "c"], pairs, 0.99)
    assert len(set(free.values())) == 1
    kept = lk.cluster(["a", "b", "c"], pairs, 0.99, split=[("a", "b")])
    assert kept["a"] != kept["b"]
    assert kept["c"] in (kept["a"], kept["b"])


def test_a_confirmed_pair_is_joined_below_the_threshold() -> None:
    pairs = [_pair("a", "b", 0.6)]
    assert len(set(lk.cluster(["a", "b"], pairs, 0.99).values())) == 2
    joined = lk.cluster(["a", "b"], pairs, 0.99, confirmed=[("a", "b")])
    assert joined["a"] == joined["b"]


def _credit(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


def test_enterprises_link_by_credit_code_and_name_core_with_weights() -> None:
    code = _credit("91350102MA2Y00017")
    other = _credit("91350102MA2Y00025")
    records = [
        lk.SourceRecord("mkt#1", "mkt", "fz.market", {
            "credit_code": code, "name": "福州闽江科技有限公司", "legal_rep": "林伟",
            "address": "福州市鼓楼区五四路12号"}),
        lk.SourceRecord("tax#1", "tax", "fz.tax", {
            "credit_code": code.lower(), "name": "闽江科技(福州)有限责任公司",
            "legal_rep": "林玮", "address": "鼓楼五四路12号"}),
        lk.SourceRecord("tax#2", "tax", "fz.tax", {
            "credit_code": other, "name": "福州榕城贸易有限公司", "legal_rep": "陈静",
            "address": "福州市鼓楼区湖东路3号"}),
    ]  # fmt: skip
    prepared = lk.prepare(lk.Kind.enterprise, records, REGIONS)
    assert prepared[1]["core"] == "闽江科技"
    result = lk.link(lk.Kind.enterprise, prepared, threshold_probability=0.01)
    assert not result.model.trained  # three records: the starting parameters are the model
    clusters = lk.cluster([r.uid for r in records], result.pairs, 0.99)
    assert clusters["mkt#1"] == clusters["tax#1"] != clusters["tax#2"]
    pair = next(p for p in result.pairs if {p.left, p.right} == {"mkt#1", "tax#1"})
    assert pair.levels["credit_code"] == "代码相同"
    assert pair.levels["name"] == "字号行业相同"
    assert pair.levels["legal_rep"] == "同音（拼音相同）"
    assert pair.weights["credit_code"] > 10
