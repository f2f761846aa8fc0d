"""Base-library linkage benchmark: a synthetic population with known truth, spread over four
source resources with the errors real registers have, linked three ways in the same run.

    python bench/baselib_bench.py [--people 10000] [--seed 7] [--skip-default]
    python bench/baselib_bench.py --people 10000 --incremental 1000
    python bench/baselib_bench.py --people 10000 --backend spark [--spark-master local[2]]

With ``--incremental ROWS``: the whole service path on a SQLite database — a full run, then a
load adding ROWS rows to one source, its event delivered and its job run (the new rows linked
against the kept model and the files), then a full re-link in the same run; both timed and
scored against the truth (see ``incremental``).

With ``--backend spark``: the citybase model linked on DuckDB and on Spark (pyspark, the master
given, ``local[2]`` by default) in the same run: each one's time (Spark's session start apart),
its score against the truth, and whether the two give the same clusters.

- **citybase**: the Chinese comparisons as splink comparison levels (``linkage.py``), trained by
  EM, clustered at the default match threshold (0.99);
- **exact ID**: records joined when their citizen ID, as recorded, is the same;
- **splink defaults**: splink's own comparison library as an English-language user would set it
  up (exact ID, ``NameComparison`` on the name, exact birth date and mobile, Jaro-Winkler on the
  address as written), same blocking, training and threshold.

Reported per method: pairwise precision and recall, and cluster F1 (a truth cluster counts when
reproduced exactly), against the known truth; and the wall time of preparing, training, scoring
and clustering. The population is made here from a seeded generator: surnames and given-name
characters drawn with frequencies close to the published national ones (approximate), IDs with
valid GB 11643 check characters, addresses in the demo city's regions.

Errors put in (per record, independently): name typed by sound (同音字, 3 %) or shape (形近字,
1 %), missing (1 %); ID missing (6 %), two adjacent digits swapped (1.5 %), one digit wrong (1 %),
the 15-digit old form (civil-affairs records of people born before 1985: 30 %), another family
member's ID (0.5 %); address moved (10 %) or written in short form (30 %) or missing (5 %);
mobile changed (10 %) or missing (20 %); 2 % of records duplicated within their source. One
person in twenty has a sibling at the same address whose given name differs by one character,
a tenth of them twins (same birth date).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from citybase.core.codes import citizen_id_check_char
from citybase.data.baselib import comparisons as cmp
from citybase.data.baselib import linkage as lk

# approximate shares (%) of the commonest surnames (national figures as published, rounded)
SURNAMES = {
    "王": 7.1, "李": 7.0, "张": 6.7, "刘": 5.4, "陈": 4.5, "杨": 3.1, "黄": 2.2, "赵": 2.2,
    "吴": 2.0, "周": 1.9, "徐": 1.4, "孙": 1.4, "马": 1.2, "朱": 1.1, "胡": 1.0, "郭": 1.0,
    "何": 0.9, "高": 0.9, "林": 0.9, "罗": 0.8, "郑": 0.8, "梁": 0.7, "谢": 0.6, "宋": 0.5,
    "唐": 0.5, "许": 0.5, "韩": 0.5, "冯": 0.4, "邓": 0.4, "曹": 0.4, "彭": 0.4, "曾": 0.4,
    "肖": 0.4, "田": 0.4, "董": 0.3, "袁": 0.3, "潘": 0.3, "于": 0.3, "蒋": 0.3, "蔡": 0.3,
    "余": 0.3, "杜": 0.3, "叶": 0.3, "程": 0.3, "苏": 0.3, "魏": 0.3, "吕": 0.3, "丁": 0.3,
    "任": 0.3, "沈": 0.2, "姚": 0.2, "卢": 0.2, "姜": 0.2, "崔": 0.2, "钟": 0.2, "谭": 0.2,
    "陆": 0.2, "汪": 0.2, "范": 0.2, "金": 0.2, "石": 0.2, "廖": 0.2, "贾": 0.2, "夏": 0.2,
    "欧阳": 0.05, "司马": 0.01,
}  # fmt: skip
# common given-name characters, weighted roughly by use (commonest first)
GIVEN = tuple(
    "伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华建国晓东海燕玉兰志宏文斌婷雪梅鹏辉玲红亮林琳"
    "俊浩宇欣怡子涵梓轩晨博嘉佳琪瑶颖莹睿旭鑫峰锋凯丹萍飞彬珍凤春荣慧新成兵庆思雨晴航昊天泽一诗"
    "可馨悦然乐安宁立永德金生民福清"
)
ROADS = ("五四路", "八一七北路", "古田路", "湖东路", "杨桥中路", "工业路", "六一北路", "华林路",
         "白马北路", "江滨西大道", "福飞路", "国货西路", "群众路", "连江中路", "乌山路", "东街")  # fmt: skip
SOURCES = (  # resource, unit, share of people present, fields it holds
    ("公安人口", "fz.police", 0.95, ("name", "citizen_id", "sex", "birth", "address")),
    ("卫健档案", "fz.health", 0.70, ("name", "citizen_id", "mobile", "address")),
    ("人社参保", "fz.hrss", 0.60, ("name", "citizen_id", "mobile")),
    ("民政救助", "fz.civil", 0.30, ("name", "citizen_id", "address", "mobile")),
)


def weighted(rng: random.Random, table: dict[str, float]) -> Callable[[], str]:
    keys, weights = list(table), list(table.values())
    return lambda: rng.choices(keys, weights)[0]


def regions() -> tuple[cmp.RegionIndex, list[cmp.Region], dict[str, list[cmp.Region]]]:
    data = yaml.safe_load((Path(__file__).parents[1] / "src/citybase/demo/fuzhou.yaml").read_text())
    found = [cmp.Region(str(r["code"]), r["name"], r["level"], str(r.get("parent") or ""))
             for r in data["regions"]]  # fmt: skip
    districts = [r for r in found if r.level == "district" and r.code.isdigit()]
    streets: dict[str, list[cmp.Region]] = defaultdict(list)
    for r in found:
        if r.level == "street":
            streets[r.parent].append(r)
    return cmp.RegionIndex(found), [d for d in districts if streets[d.code]], streets


@dataclass
class Person:
    pid: int
    name: str
    id18: str
    sex: str
    birth: date
    district: cmp.Region
    street: cmp.Region
    road: str
    number: int
    mobile: str


def _homophones() -> dict[str, list[str]]:
    by_sound: dict[str, list[str]] = defaultdict(list)
    for ch in set(GIVEN) | set("玮炜蔚薇维纬卫娅雅亚丫静婧靖敬晶菁精莉俐立力利励"):
        by_sound[cmp.name_pinyin(ch)].append(ch)
    return {ch: [o for o in group if o != ch] for group in by_sound.values() for ch in group}


HOMOPHONES = _homophones()
SHAPES = {ch: [o for o in group if o != ch] for group in cmp.SHAPE_GROUPS for ch in group}


def population(n: int, rng: random.Random) -> list[Person]:
    _, districts, streets = regions()
    surname = weighted(rng, SURNAMES)
    given_weights = [1.0 / (1 + i / 10) for i in range(len(GIVEN))]
    serial: Counter[str] = Counter()
    people: list[Person] = []

    def new_id(district: cmp.Region, born: date, sex: str) -> str:
        key = f"{district.code}{born:%Y%m%d}"
        serial[key] += 1
        seq = serial[key] * 2 - (1 if sex == "男" else 0)  # odd for men
        first17 = f"{key}{seq % 1000:03d}"
        return first17 + citizen_id_check_char(first17)

    def given() -> str:
        size = 1 if rng.random() < 0.15 else 2
        return "".join(rng.choices(GIVEN, given_weights, k=size))

    while len(people) < n:
        sex = rng.choice("男女")
        born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 70))
        district = rng.choice(districts)
        street = rng.choice(streets[district.code])
        sur = surname()
        person = Person(len(people), sur + given(), new_id(district, born, sex), sex, born,
                        district, street, rng.choice(ROADS), rng.randint(1, 400),
                        f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}")  # fmt: skip
        people.append(person)
        if rng.random() < 0.05 and len(people) < n:  # a sibling at the same address
            name = person.name
            pos = rng.randrange(len(sur), len(name))
            sibling_name = (
                name[:pos] + rng.choice([g for g in GIVEN if g != name[pos]]) + name[pos + 1 :]
            )
            twin = rng.random() < 0.1
            sborn = born if twin else born + timedelta(days=rng.randint(400, 4000))
            ssex = rng.choice("男女")
            people.append(Person(len(people), sibling_name, new_id(district, sborn, ssex), ssex,
                                 sborn, district, street, person.road, person.number,
                                 f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"))  # fmt: skip
    return people


def _typo(name: str, rng: random.Random, table: dict[str, list[str]]) -> str:
    spots = [i for i in range(1, len(name)) if table.get(name[i])]
    if not spots:
        return name
    i = rng.choice(spots)
    return name[:i] + rng.choice(table[name[i]]) + name[i + 1 :]


def _id_error(value: str, rng: random.Random) -> str:
    digits = list(value[:17])
    i = rng.randrange(0, 16)
    if rng.random() < 0.6:
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
        if digits[i] == digits[i + 1]:
            digits[i] = str((int(digits[i]) + 1) % 10)
    else:
        digits[i] = str((int(digits[i]) + rng.randint(1, 9)) % 10)
    return "".join(digits) + value[17]


def records(
    people: list[Person], rng: random.Random
) -> tuple[list[lk.SourceRecord], dict[str, int]]:
    out: list[lk.SourceRecord] = []
    truth: dict[str, int] = {}
    by_address: dict[tuple[str, int], list[Person]] = defaultdict(list)
    for p in people:
        by_address[(p.road, p.number)].append(p)
    for resource, unit, share, fields in SOURCES:
        row = 0
        for p in people:
            if rng.random() >= share:
                continue
            copies = 2 if rng.random() < 0.02 else 1
            for _ in range(copies):
                row += 1
                values: dict[str, Any] = {}
                name = p.name
                roll = rng.random()
                if roll < 0.03:
                    name = _typo(name, rng, HOMOPHONES)
                elif roll < 0.04:
                    name = _typo(name, rng, SHAPES)
                elif roll < 0.05:
                    name = ""
                values["name"] = name
                cid = p.id18
                roll = rng.random()
                if roll < 0.06:
                    cid = ""
                elif roll < 0.085:  # 1.5 % swapped, 1 % one digit wrong
                    cid = _id_error(cid, rng)
                elif roll < 0.09:
                    family = [o for o in by_address[(p.road, p.number)] if o is not p]
                    cid = family[0].id18 if family else cid
                if (
                    resource == "民政救助"
                    and p.birth.year < 1985
                    and cid == p.id18
                    and rng.random() < 0.3
                ):
                    cid = cid[:6] + cid[8:17]  # the 15-digit form
                values["citizen_id"] = cid
                values["sex"] = p.sex
                values["birth"] = p.birth.isoformat()
                roll = rng.random()
                if roll < 0.05:
                    address = ""
                elif roll < 0.15:
                    address = f"{p.district.name}{rng.choice(ROADS)}{rng.randint(1, 400)}号"
                elif roll < 0.45:
                    address = f"{p.district.name[:2]}{p.road}{p.number}号"
                else:
                    address = f"福州市{p.district.name}{p.street.name}{p.road}{p.number}号"
                values["address"] = address
                roll = rng.random()
                values["mobile"] = "" if roll < 0.2 else (
                    f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}" if roll < 0.3
                    else p.mobile
                )  # fmt: skip
                kept = {f: values[f] for f in fields}
                uid = lk.record_uid(resource, row)
                out.append(lk.SourceRecord(uid, resource, unit, kept))
                truth[uid] = p.pid
    rng.shuffle(out)
    return out, truth


# --- scoring -------------------------------------------------------------------------------------


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass
class Score:
    precision: float
    recall: float
    cluster_f1: float
    clusters: int


def score(assignment: dict[str, str], truth: dict[str, int]) -> Score:
    predicted: dict[str, list[str]] = defaultdict(list)
    for uid, cluster in assignment.items():
        predicted[cluster].append(uid)
    true_clusters: dict[int, list[str]] = defaultdict(list)
    for uid, pid in truth.items():
        true_clusters[pid].append(uid)
    tp = sum(_pairs(n) for members in predicted.values()
             for n in Counter(truth[u] for u in members).values())  # fmt: skip
    predicted_pairs = sum(_pairs(len(m)) for m in predicted.values())
    true_pairs = sum(_pairs(len(m)) for m in true_clusters.values())
    exact_true = {frozenset(m) for m in true_clusters.values()}
    exact = sum(1 for m in predicted.values() if frozenset(m) in exact_true)
    cp, cr = exact / max(len(predicted), 1), exact / max(len(true_clusters), 1)
    return Score(
        precision=tp / predicted_pairs if predicted_pairs else 1.0,
        recall=tp / true_pairs if true_pairs else 1.0,
        cluster_f1=2 * cp * cr / (cp + cr) if cp + cr else 0.0,
        clusters=len(predicted),
    )


def exact_id(recs: list[lk.SourceRecord]) -> dict[str, str]:
    first: dict[str, str] = {}
    out = {}
    for r in recs:
        value = str(r.values.get("citizen_id") or "").upper()
        out[r.uid] = first.setdefault(value, r.uid) if value else r.uid
    return out


def splink_defaults(prepared: list[dict[str, Any]], recs: list[lk.SourceRecord]) -> lk.LinkResult:
    from splink import comparison_library as cl

    raw = {r.uid: r.values for r in recs}
    rows = []
    for p in prepared:
        v = raw[p["unique_id"]]
        rows.append({
            "unique_id": p["unique_id"],
            "id_raw": str(v.get("citizen_id") or "") or None,
            "name_raw": str(v.get("name") or "") or None,
            "birth_raw": str(v.get("birth") or "") or None,
            "mobile_raw": str(v.get("mobile") or "") or None,
            "address_raw": str(v.get("address") or "") or None,
        })  # fmt: skip
    comparisons = [
        cl.ExactMatch("id_raw"),
        cl.NameComparison("name_raw"),
        cl.ExactMatch("birth_raw"),
        cl.ExactMatch("mobile_raw"),
        cl.JaroWinklerAtThresholds("address_raw"),
    ]
    blocking = ("l.id_raw = r.id_raw", "l.name_raw = r.name_raw AND l.birth_raw = r.birth_raw",
                "l.mobile_raw = r.mobile_raw")  # fmt: skip
    training = ("l.id_raw = r.id_raw", "l.name_raw = r.name_raw AND l.birth_raw = r.birth_raw")
    return lk.link(lk.Kind.person, rows, comparisons=comparisons, blocking=blocking,
                   training=training, threshold_probability=0.5)  # fmt: skip


# --- incremental linking ------------------------------------------------------------------------


ITEMS = {"name": "姓名|string|50|姓名", "citizen_id": "公民身份号码|string|18|公民身份号码",
         "sex": "性别|string|2|", "birth": "出生日期|date||日期",
         "address": "地址|string|200|地址", "mobile": "手机号码|string|11|手机号码"}  # fmt: skip


def incremental(recs: list[lk.SourceRecord], truth: dict[str, int], new_rows: int) -> None:
    """The whole service path on a SQLite database (the demo city's regions, units and users;
    the four sources registered and loaded): a full run on every record but the last
    ``new_rows`` of the largest source but one; then that source loaded again with them — the
    load's event delivered and its job run, so ``link_rows_of`` links the new rows against the
    kept model and the files — timed; then a full re-link of everything, timed in the same run.
    Both results are scored against the truth."""
    import tempfile

    from benchdb import open_db
    from citybase.core.bus import service as bus
    from citybase.core.identity import service as identity
    from citybase.core.identity.schemas import UserCreate
    from citybase.core.orgs import service as orgs
    from citybase.core.settings import Settings
    from citybase.data.baselib import repository
    from citybase.data.baselib import service as baselib
    from citybase.data.baselib import tasks as baselib_tasks  # its consumer and job
    from citybase.data.catalog import service as catalog
    from citybase.data.catalog.schemas import ResourceCreate, Transition
    from citybase.data.datastore import service as datastore
    from citybase.data.masking import operators as ops
    from citybase.demo.seed import DEMO_ACTOR, DEMO_FILE, DEMO_PASSWORD, DEMO_USERS, PATH_TO

    del baselib_tasks  # imported for the consumer and the job it registers
    home = Path(tempfile.mkdtemp(prefix="baselib-bench-"))
    db = open_db("sqlite", home)
    settings = Settings(home=home / "home", database_url=db.url)
    keys = ops.keys_for(settings.masking_key)
    by_source: dict[str, list[lk.SourceRecord]] = defaultdict(list)
    for r in recs:
        by_source[r.resource_code].append(r)
    for rows in by_source.values():
        rows.sort(key=lambda r: int(r.uid.split("#")[1]))
    target = SOURCES[1][0]  # 卫健档案: ID, name, phone, address
    held = by_source[target][-new_rows:]
    codes: dict[str, str] = {}

    def table(source: list[lk.SourceRecord], fields: tuple[str, ...]) -> list[dict[str, Any]]:
        names = {f: ITEMS[f].split("|")[0] for f in fields}
        return [{names[f]: (r.values.get(f) or None) for f in fields} for r in source]

    with db.session_scope() as session:
        orgs.import_orgs(session, DEMO_ACTOR, DEMO_FILE.name, DEMO_FILE.read_bytes())
        for user in DEMO_USERS:
            identity.create_user(session, None, UserCreate(
                username=user.username, display_name=user.display_name, password=DEMO_PASSWORD,
                unit_code=user.unit_code, roles=[user.role]), actor=DEMO_ACTOR)  # fmt: skip
        admin = identity.principal_for(session, "admin")
        steward = identity.principal_for(session, "steward")
        for resource, unit, _, fields in SOURCES:
            items = [dict(zip(("name", "data_type", "length", "element"),
                              [v or (None if n == 2 else "") for n, v in
                               enumerate(ITEMS[f].split("|"))],
                              strict=True)) for f in fields]  # fmt: skip
            made = catalog.create_resource(session, admin, ResourceCreate.model_validate({
                "name": resource, "provider_unit_code": unit, "classification": "101001",
                "abstract": f"{resource}（基准测试）", "format": "database",
                "share_type": "unconditional", "share_method": "接口", "open_type": "none",
                "update_cycle": "daily", "base_tags": ["population"], "items": items,
            }))  # fmt: skip
            for action in PATH_TO["registered"]:
                who = admin if action == "submit" else steward
                catalog.transition(session, who, made.code, action, Transition())
            codes[resource] = made.code
            rows = by_source[resource][:-new_rows] if resource == target else by_source[resource]
            datastore.load_rows(session, admin, made.code, table(rows, fields), "bench")
    bus.dispatch_in_process(db)  # the loads' jobs find no kept model yet: nothing to link
    bus.run_due_jobs(db, settings, "bench", limit=100)

    def assignment() -> dict[str, str]:
        with db.session_scope(readonly=True) as session:
            back = {code: name for name, code in codes.items()}
            return {f"{back[link.resource_code]}#{link.row_no}": str(link.entity_id)
                    for link in repository.links(session, "person")}  # fmt: skip

    t0 = time.perf_counter()
    with db.session_scope() as session:
        admin = identity.principal_for(session, "admin")
        run = baselib.link_base_library(session, admin, lk.Kind.person, settings.baselib, keys)
    t_base = time.perf_counter() - t0
    print(f"full run on {run.records:,} records: {t_base:.1f} s")

    fields = next(f for name, _, _, f in SOURCES if name == target)
    with db.session_scope() as session:
        admin = identity.principal_for(session, "admin")
        datastore.load_rows(session, admin, codes[target], table(by_source[target], fields),
                            "bench")  # fmt: skip
    t0 = time.perf_counter()
    bus.dispatch_in_process(db)  # the load's event: the consumer stores the job
    if os.environ.get("BASELIB_PROFILE"):
        import cProfile

        cProfile.runctx("bus.run_due_jobs(db, settings, 'bench')", globals(), locals(),
                        os.environ["BASELIB_PROFILE"])  # fmt: skip
    else:
        bus.run_due_jobs(db, settings, "bench")  # the job links the new rows
    t_inc = time.perf_counter() - t0
    with db.session_scope(readonly=True) as session:
        inc_run = repository.runs(session, "person", 1)[0]
        detail, was_incremental = dict(inc_run.model), inc_run.incremental
    assert was_incremental, "the incremental run did not happen"
    inc_score = score(assignment(), truth)
    print(f"incremental: {detail['linked']:,} new rows linked ({detail['unchanged']:,} "
          f"unchanged), {detail['candidates']:,} existing records compared, "
          f"{len(detail['created']):,} files created, {len(detail['merged']):,} merged; "
          f"{t_inc:.2f} s event to files ({detail['seconds']:.2f} s in the link, of which "
          f"{detail['seconds_linking']:.2f} s preparing, finding, scoring and placing the "
          "rows; the rest reading the resource, choosing the touched files' golden fields, "
          "raising disputes and writing)")  # fmt: skip

    t0 = time.perf_counter()
    with db.session_scope() as session:
        admin = identity.principal_for(session, "admin")
        full = baselib.link_base_library(session, admin, lk.Kind.person, settings.baselib, keys)
    t_full = time.perf_counter() - t0
    full_score = score(assignment(), truth)
    print()
    print("| linking the new rows | records linked | time | precision | recall | cluster F1 "
          "| files |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print(f"| incremental ({new_rows:,} new rows, kept model) | {detail['linked']:,} | "
          f"{t_inc:.2f} s | {inc_score.precision:.4f} | {inc_score.recall:.4f} | "
          f"{inc_score.cluster_f1:.4f} | {inc_score.clusters:,} |")  # fmt: skip
    print(f"| full re-link (trained again) | {full.records:,} | {t_full:.1f} s | "
          f"{full_score.precision:.4f} | {full_score.recall:.4f} | {full_score.cluster_f1:.4f} "
          f"| {full_score.clusters:,} |")  # fmt: skip
    print(f"\nfull re-link / incremental: {t_full / t_inc:,.0f}×")
    sys.stdout.flush()


def on_spark(
    recs: list[lk.SourceRecord], truth: dict[str, int], index: cmp.RegionIndex, threshold: float,
    master: str,
) -> None:  # fmt: skip
    """The same prepared records linked on DuckDB (the reference), then on Spark."""
    from citybase.data.baselib import backends

    uids = [r.uid for r in recs]
    prepared = lk.prepare(lk.Kind.person, recs, index)
    t0 = time.perf_counter()
    on_duckdb = lk.link(lk.Kind.person, prepared, threshold_probability=0.5)
    duckdb_clusters = lk.cluster(uids, on_duckdb.pairs, threshold)
    t_duckdb = time.perf_counter() - t0
    spark = backends.Backend(engine=backends.Engine.spark, spark_master=master)
    t0 = time.perf_counter()
    backends.spark_session(spark)
    t_session = time.perf_counter() - t0
    t0 = time.perf_counter()
    on_spark = lk.link(lk.Kind.person, prepared, threshold_probability=0.5, backend=spark)
    spark_clusters = lk.cluster(uids, on_spark.pairs, threshold)
    t_spark = time.perf_counter() - t0
    a = {(p.left, p.right): p.weight for p in on_duckdb.pairs}
    b = {(p.left, p.right): p.weight for p in on_spark.pairs}
    both = set(a) & set(b)
    drift = max((abs(a[k] - b[k]) for k in both), default=0.0)
    print(f"trained: DuckDB {on_duckdb.model.trained} {on_duckdb.model.notes}, "
          f"Spark {on_spark.model.trained} {on_spark.model.notes}")  # fmt: skip
    print(f"pairs ≥ 0.5: DuckDB {len(a):,}, Spark {len(b):,}, in both {len(both):,}; "
          f"largest match-weight difference in both {drift:.3f} bits; same clusters: "
          f"{duckdb_clusters == spark_clusters}")  # fmt: skip
    print()
    print("| engine | precision | recall | cluster F1 | clusters | train+score+cluster |")
    print("|---|---|---|---|---|---|")
    for name, clusters, seconds in (("DuckDB", duckdb_clusters, t_duckdb),
                                    (f"Spark {master}", spark_clusters, t_spark)):  # fmt: skip
        s = score(clusters, truth)
        print(f"| {name} | {s.precision:.4f} | {s.recall:.4f} | {s.cluster_f1:.4f} | "
              f"{s.clusters:,} | {seconds:.1f} s |")  # fmt: skip
    print(
        f"\nSpark session start: {t_session:.1f} s (not counted above); "
        f"Spark / DuckDB: {t_spark / t_duckdb:.1f}×"
    )
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=0.99)
    parser.add_argument("--skip-default", action="store_true", help="leave out splink defaults")
    parser.add_argument("--incremental", type=int, default=0, metavar="ROWS",
                        help="instead: link ROWS new rows from the bus against the kept model "
                        "(on SQLite, through the service), and a full re-link in the same run")  # fmt: skip
    parser.add_argument("--backend", choices=("duckdb", "spark"), default="duckdb",
                        help="spark: link the citybase model on DuckDB and on Spark in the same "
                        "run")  # fmt: skip
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    index, _, _ = regions()
    started = time.perf_counter()
    people = population(args.people, rng)
    recs, truth = records(people, rng)
    made = time.perf_counter() - started
    print(f"people {len(people):,}, records {len(recs):,} in {len(SOURCES)} sources "
          f"(made in {made:.1f} s)")  # fmt: skip
    if args.incremental:
        incremental(recs, truth, args.incremental)
        return
    if args.backend == "spark":
        on_spark(recs, truth, index, args.threshold, args.spark_master)
        return

    results: list[tuple[str, Score, float]] = []
    t0 = time.perf_counter()
    by_id = exact_id(recs)
    results.append(("exact ID", score(by_id, truth), time.perf_counter() - t0))

    t0 = time.perf_counter()
    prepared = lk.prepare(lk.Kind.person, recs, index)
    t_prep = time.perf_counter() - t0
    result = lk.link(lk.Kind.person, prepared, threshold_probability=0.5)
    t_link = time.perf_counter() - t0 - t_prep
    ours = lk.cluster([r.uid for r in recs], result.pairs, args.threshold)
    t_ours = time.perf_counter() - t0
    results.append(("citybase", score(ours, truth), t_ours))
    print(f"citybase: prepare {t_prep:.1f} s, train+score {t_link:.1f} s, cluster "
          f"{t_ours - t_prep - t_link:.1f} s; {len(result.pairs):,} pairs ≥ 0.5; "
          f"trained: {result.model.trained} {result.model.notes}")  # fmt: skip

    if not args.skip_default:
        t0 = time.perf_counter()
        default = splink_defaults(prepared, recs)
        clusters = lk.cluster([r.uid for r in recs], default.pairs, args.threshold)
        results.append(("splink defaults", score(clusters, truth),
                        time.perf_counter() - t0 + t_prep))  # fmt: skip

    print()
    print(f"| method | precision | recall | cluster F1 | clusters (truth {len(people):,}) | time |")
    print("|---|---|---|---|---|---|")
    for name, s, seconds in results:
        print(f"| {name} | {s.precision:.4f} | {s.recall:.4f} | {s.cluster_f1:.4f} | "
              f"{s.clusters:,} | {seconds:.1f} s |")  # fmt: skip
    print(f"\nrecords linked per second (citybase): {len(recs) / t_ours:,.0f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
