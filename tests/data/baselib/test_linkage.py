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


# --- preparing many records at once is preparing each -------------------------------------------

TRICKY_PEOPLE = [
    {
        "name": "张 伟",
        "citizen_id": "350102198001011234",
        "birth": "1980年1月1日",
        "sex": "男",
        "mobile": "+86 138-0000-0000",
        "address": "福州市鼓楼区五四路12号",
    },
    {
        "name": "张伟",
        "citizen_id": "350102800101123",
        "birth": None,
        "sex": "1",
        "mobile": "008613800000000",
        "address": "鼓楼五四路12号",
    },
    {
        "name": "阿依古丽·买买提",
        "citizen_id": "３５０１０２１９８００１０１１２３Ｘ",
        "birth": 19800101,
        "sex": 2,
        "mobile": 13800000000,
        "address": "鼓楼区五四路十二号",
    },
    {
        "name": "",
        "citizen_id": "not an id",
        "birth": "2026-13-01",
        "sex": "未知",
        "mobile": "12345",
        "address": "",
    },
    {"name": None, "citizen_id": None, "birth": None, "sex": None, "mobile": None, "address": None},
    {
        "name": "欧阳娜娜",
        "citizen_id": "350102198001011235",
        "birth": "1980/1/1",
        "sex": "F",
        "mobile": 13800000000.0,
        "address": ["鼓楼区"],
    },  # a JSON list: no key, still prepared
    {
        "name": "王玉",
        "citizen_id": 350102198001011234,
        "birth": True,
        "sex": 1.0,
        "mobile": 1,
        "address": 1,
    },  # numbers equal as keys (1, 1.0, True) but not as text
    {
        "name": "张伟",
        "citizen_id": "350102198001011234",
        "birth": "1980-01-01",
        "sex": "男",
        "mobile": "13800000000",
        "address": "福州市鼓楼区五四路12号",
    },  # a repeat
]


def test_preparing_many_people_gives_what_preparing_each_gives() -> None:
    records = [lk.SourceRecord(f"r#{i}", "r", "fz.police", dict(values))
               for i, values in enumerate(TRICKY_PEOPLE * 2)]  # fmt: skip
    each = [lk.prepare_person(r, REGIONS) for r in records]
    assert lk.prepare(lk.Kind.person, records, REGIONS) == each
    assert each[1]["id18"]  # upgraded,
    assert each[1]["id18"] != each[0]["id18"]  # not the same
    # 13800000000 and 13800000000.0 are one key to a dict, but only the first is a number
    assert each[2]["mobile"] == "13800000000"
    assert each[5]["mobile"] is None


def test_preparing_many_enterprises_gives_what_preparing_each_gives() -> None:
    code = _credit("91350102MA2Y00017")
    values = [
        {
            "credit_code": code,
            "name": "福州闽江科技有限公司",
            "legal_rep": "林 伟",
            "address": "福州市鼓楼区五四路12号",
            "founded": "2010年3月5日",
        },
        {
            "credit_code": code.lower(),
            "name": "闽江科技(福州)有限责任公司鼓楼分公司",
            "legal_rep": "林玮",
            "address": "鼓楼五四路12号",
            "founded": 20100305,
        },
        {"credit_code": "bad", "name": None, "legal_rep": "", "address": None, "founded": None},
        {"credit_code": None, "name": 1, "legal_rep": 1.0, "address": True, "founded": 1},
    ]
    records = [lk.SourceRecord(f"m#{i}", "m", "fz.market", dict(v))
               for i, v in enumerate(values * 2)]  # fmt: skip
    names = [r.name for r in REGIONS.regions.values()]
    each = [lk.prepare_enterprise(r, REGIONS, names) for r in records]
    assert lk.prepare(lk.Kind.enterprise, records, REGIONS) == each


# --- the faster rules and clusters are the same ones ----------------------------------------------


def test_the_typo_rule_finds_exactly_the_pairs_the_edit_distance_finds() -> None:
    import duckdb

    base = "35010219800101123"
    swapped = base[:5] + base[6] + base[5] + base[7:]
    ids = [
        base,
        base[:-1] + "9",
        swapped,
        base[:3] + "99" + base[5:],
        base[::-1],
        None,
        base[:9] + base[10] + base[9] + base[11:],
        base[:4] + "7" + base[5:15] + "88",
    ]
    con = duckdb.connect()
    con.execute("CREATE TABLE t (unique_id INTEGER, name_py VARCHAR, id17 VARCHAR, id18 VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, 'zhang wei', ?, ?)",
                    [(i, v, None if v is None else v + "X") for i, v in enumerate(ids)])  # fmt: skip
    old = ("l.name_py = r.name_py AND (l.id18 IS NULL OR r.id18 IS NULL "
           "OR damerau_levenshtein(l.id17, r.id17) <= 1)")  # fmt: skip

    def pairs(rule: str) -> set[tuple[int, int]]:
        sql = f"SELECT l.unique_id, r.unique_id FROM t l JOIN t r ON l.unique_id < r.unique_id AND {rule}"
        return {(a, b) for a, b in con.execute(sql).fetchall()}

    found = pairs(lk.PERSON_BLOCKING[-1])
    assert found == pairs(old)
    assert {(0, 1), (0, 2), (0, 6)} <= found
    assert (0, 3) not in found


def test_clusters_without_split_pairs_are_the_union_of_the_strong_pairs() -> None:
    import random

    rng = random.Random(3)
    uids = [f"u{i:03d}" for i in range(300)]
    pairs = [_pair(rng.choice(uids), rng.choice(uids), rng.random()) for _ in range(400)]
    pairs = [p for p in pairs if p.left != p.right]
    confirmed = [(uids[1], uids[200]), (uids[7], "not-a-record")]
    fast = lk.cluster(uids, pairs, 0.7, confirmed=confirmed)
    # the same with a split between two records of no pair: the one-by-one union-find
    slow = lk.cluster([*uids, "x", "y"], pairs, 0.7, confirmed=confirmed, split=[("x", "y")])
    assert fast == {u: c for u, c in slow.items() if u in fast}
    assert fast[uids[1]] == fast[uids[200]]
    assert len(set(fast.values())) < len(uids)
