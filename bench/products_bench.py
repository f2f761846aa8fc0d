"""Data products benchmarks.

    python bench/products_bench.py policies [--contracts 10000] [--decisions 200000]
    python bench/products_bench.py catalog [--sizes 1000,5000,20000] [--rounds 15]

Parts that exist:

1. ``policies`` — **usage-policy decisions.** 10,000 distinct contract policies (ODRL 2.2
   Agreements, generated: each permits one to three actions with a purpose set, a term, a call
   limit, a row limit, sometimes a byte limit, a region and a scenario, joined with ``and``/``or``
   now and then; prohibits distribution and transfer; obliges deletion at the end of the term)
   are compiled once, as at agreement time, and kept in a dict by contract number. Each decision
   looks its contract up and runs ``policies.decide`` on a generated delivery (allowed and
   refused ones mixed, each contract's meters somewhere in its limits). The reference is the bare
   dict lookup of the contract, timed the same way (one ``perf_counter_ns`` pair per call) in the
   same run, the two taking turns call by call. Aim: decisions at p99 < 1 ms.

2. ``catalog`` — **product catalog search.** Fills a scratch SQLite database with listed data products whose names and descriptions are drawn
from the demo's vocabulary (a resource-like name, a sector, a kind), then times the catalog
search the console and the API run — the listed products on offer read, matched with data/
search's bigram tokens, ranked, counted by facet, one page read — for a two-word query, a
one-word query and a facet with no words. The reference, in the same run, is the plain SQL a
naive catalog would run: ``name LIKE '%term%'`` over the same table, counted and one page read.
Each figure is the median of ``--rounds`` after one to warm up.

Part still to come (not written yet): ``delivery`` — a metered delivery under a contract against
an unmetered read of the same rows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.data.products import service
from citybase.data.products.models import DataProduct
from citybase.data.products.policies import CompiledPolicy, UsageRequest, compile_policy, decide
from citybase.data.products.schemas import CatalogQuery
from citybase.data.search import tokens

PURPOSES = [
    "交通规划",
    "拥堵治理",
    "公交优化",
    "城市体检",
    "应急管理",
    "科研",
    "商业选址",
    "保险精算",
]
REGIONS = ["fz", "fz.gulou", "fz.taijiang", "fz.cangshan", "fz.jinan", "xm", "xm.siming"]
SCENARIOS = ["信号配时", "停车诱导", "客流预测", "选址分析", "风险评估"]
ACTIONS = ["use", "read", "display", "aggregate", "anonymize", "reproduce", "derive"]
START = datetime(2026, 1, 1, tzinfo=UTC)


def _constraint(left: str, operator: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


@dataclass
class Terms:
    """What a generated contract allows, to build its policy and deliveries in or out of it."""

    n: int
    actions: list[str]
    purposes: list[str]
    end: datetime
    calls: int
    rows: int
    bytes: int | None
    region: str
    scenarios: list[str] | None


def make_terms(n: int, rng: random.Random) -> Terms:
    return Terms(
        n, rng.sample(ACTIONS, rng.randint(1, 3)), rng.sample(PURPOSES, rng.randint(1, 3)),
        START + timedelta(days=rng.randint(30, 720)), rng.randint(100, 100_000),
        rng.randint(10_000, 10_000_000),
        rng.randint(10**6, 10**10) if rng.random() < 0.4 else None,
        rng.choice(["fz", "xm"]), rng.sample(SCENARIOS, 2) if rng.random() < 0.3 else None,
    )  # fmt: skip


def make_policy(t: Terms) -> dict[str, Any]:
    constraints = [
        _constraint("purpose", "isAnyOf", t.purposes),
        _constraint("dateTime", "lt", {"@value": t.end.isoformat(), "@type": "xsd:dateTime"}),
        _constraint("count", "lteq", t.calls),
        _constraint("citybase:rows", "lteq", t.rows),
        _constraint("spatial", "isPartOf", t.region),
    ]
    if t.bytes is not None:
        constraints.append(_constraint("citybase:bytes", "lteq", t.bytes))
    if t.scenarios is not None:
        constraints.append({"or": [
            _constraint("citybase:scenario", "isAnyOf", t.scenarios),
            _constraint("purpose", "eq", "科研"),
        ]})  # fmt: skip
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Agreement",
        "uid": f"urn:citybase:contract:HT2026{t.n:06d}",
        "assigner": "fz.bigdata",
        "assignee": f"op.{t.n % 500:03d}",
        "permission": [
            {"action": action, "constraint": constraints, "duty": [{"action": "attribute"}]}
            for action in t.actions
        ],
        "prohibition": [{"action": "distribute"}, {"action": "transfer"}],
        "obligation": [{"action": "delete", "constraint": [
            _constraint("dateTime", "gteq", t.end.isoformat())]}],
    }  # fmt: skip


def make_request(t: Terms, rng: random.Random) -> UsageRequest:
    """A delivery within the terms, then one term in four moved out of them at random."""
    used = rng.random()
    ask = {
        "action": rng.choice(t.actions), "at": START + (t.end - START) * rng.random(),
        "purpose": rng.choice(t.purposes), "region": t.region + rng.choice(["", ".gulou"]),
        "calls": int((t.calls - 1) * used), "rows": int((t.rows - 10_000) * used),
        "bytes": int((t.bytes or 0) * used * 0.9), "rows_asked": rng.randint(1, 10_000),
        "assignee": f"op.{t.n % 500:03d}",
        "scenario": rng.choice(t.scenarios or SCENARIOS),
    }  # fmt: skip
    if rng.random() < 0.25:
        ask |= rng.choice([
            {"action": "distribute"}, {"purpose": "广告投放"}, {"region": "pt"},
            {"at": t.end + timedelta(days=1)}, {"calls": t.calls}, {"rows": t.rows},
        ])  # fmt: skip
    return UsageRequest(**ask)


def _pct(values: list[int], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] / 1000  # µs


def bench_policies(contracts: int, decisions: int) -> None:
    rng = random.Random(2026)
    terms = [make_terms(n, rng) for n in range(contracts)]
    raw = [make_policy(t) for t in terms]
    t0 = time.perf_counter()
    live: dict[str, CompiledPolicy] = {}
    for policy in raw:
        compiled = compile_policy(policy)
        live[compiled.uid] = compiled
    compile_s = time.perf_counter() - t0
    assert len(live) == contracts
    ids = list(live)
    work = []
    for _ in range(decisions):
        n = rng.randrange(contracts)
        work.append((ids[n], make_request(terms[n], rng)))
    clock = time.perf_counter_ns
    decided: list[int] = []
    looked: list[int] = []
    allowed = 0
    for uid, request in work:
        a = clock()
        live[uid]  # the reference: the lookup alone
        b = clock()
        looked.append(b - a)
        a = clock()
        decision = decide(live[uid], request)
        b = clock()
        decided.append(b - a)
        allowed += decision.allowed
    print(f"contracts compiled: {contracts:,} in {compile_s:.2f} s "
          f"({compile_s / contracts * 1e6:.0f} µs each)")  # fmt: skip
    print(f"decisions: {decisions:,} ({allowed / decisions:.0%} allowed)")
    print(f"{'':28}{'p50 µs':>10}{'p95 µs':>10}{'p99 µs':>10}{'mean µs':>10}")
    for name, values in (("lookup + decide", decided), ("bare dict lookup", looked)):
        print(f"{name:28}{_pct(values, 0.5):10.2f}{_pct(values, 0.95):10.2f}"
              f"{_pct(values, 0.99):10.2f}{statistics.fmean(values) / 1000:10.2f}")  # fmt: skip
    print(f"ratio decide / lookup at p99: {_pct(decided, 0.99) / _pct(looked, 0.99):.1f}")
    print(f"aim p99 < 1000 µs: {'met' if _pct(decided, 0.99) < 1000 else 'NOT met'}")


# --- catalog search ---------------------------------------------------------------------------

SUBJECTS = ["公交线路", "停车场泊位", "井盖巡查", "空气质量监测", "企业登记", "医疗机构", "养老机构",
            "景区客流", "道路设施", "水质监测", "纳税信用", "社保缴纳", "学校分布", "充电桩"]  # fmt: skip
AREAS = ["鼓楼区", "台江区", "仓山区", "晋安区", "马尾区", "长乐区", "全市"]
SECTORS = ["交通出行", "城市治理", "绿色低碳", "普惠金融", "医疗健康", "民生服务", "文化旅游"]
KINDS = [
    ("dataset", "数据集"),
    ("api", "查询接口"),
    ("report", "分析报告"),
    ("sandbox", "沙箱分析"),
]
PRICES = ["free", "per_call", "per_row", "monthly"]


def fill(db: object, n: int) -> None:
    rng = random.Random(n)
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        subject, area = rng.choice(SUBJECTS), rng.choice(AREAS)
        kind, suffix = rng.choice(KINDS)
        sector = rng.choice(SECTORS)
        name = f"{area}{subject}{suffix}"
        description = f"基于{area}{subject}数据加工，按月更新，服务{sector}场景。"
        rows.append(DataProduct(
            number=f"CP-B-{i:06d}", name=name, kind=kind, owner_unit_code="fz.dataops",
            description=description, sector=sector, source_codes=["R1"], update_cycle="monthly",
            price_model=rng.choice(PRICES), price_fen=0, status="listed", registered_by="bench",
            listed_at=now, checks=[], quality=[], sample_rows=[],
            search_tokens=tokens.index_text(name, sector, description),
        ))  # fmt: skip
    with db.session_scope() as session:  # type: ignore[attr-defined]
        session.add_all(rows)


def median_ms(fn: object, rounds: int) -> float:
    fn()  # type: ignore[operator]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_catalog(sizes: str, rounds: int) -> None:
    print("| listed products | query | search ms | LIKE reference ms | ÷ reference | matches |")
    print("|---|---|---|---|---|---|")
    for n in (int(s) for s in sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            db = open_db("sqlite", Path(tmp))
            fill(db, n)
            with db.session_scope(readonly=True) as session:
                for label, query, like in (
                    ("两词 鼓楼 公交", CatalogQuery(q="鼓楼 公交"), "公交"),
                    ("一词 空气质量", CatalogQuery(q="空气质量"), "空气质量"),
                    ("facet kind=api", CatalogQuery(kind="api"), ""),
                ):  # fmt: skip
                    found = service.search_catalog(session, query)

                    def ours(q: CatalogQuery = query) -> object:
                        return service.search_catalog(session, q)

                    def reference(term: str = like) -> object:
                        where = DataProduct.name.like(f"%{term}%")
                        total = session.scalar(
                            select(func.count()).select_from(DataProduct).where(where)
                        )
                        page = list(
                            session.scalars(
                                select(DataProduct).where(where).order_by(DataProduct.id).limit(20)
                            )
                        )
                        return total, page  # fmt: skip

                    a, b = median_ms(ours, rounds), median_ms(reference, rounds)
                    print(f"| {n:,} | {label} | {a:.1f} | {b:.1f} | {a / b:.0f} | "
                          f"{found.total:,} |")  # fmt: skip
            db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    policies = parts.add_parser("policies", help="usage-policy decisions over live contracts")
    policies.add_argument("--contracts", type=int, default=10_000)
    policies.add_argument("--decisions", type=int, default=200_000)
    catalog = parts.add_parser("catalog", help="product catalog search over many listed products")
    catalog.add_argument("--sizes", default="1000,5000,20000")
    catalog.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    if args.part == "policies":
        bench_policies(args.contracts, args.decisions)
    elif args.part == "catalog":
        bench_catalog(args.sizes, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
