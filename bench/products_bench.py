"""Data products benchmarks.

    python bench/products_bench.py policies [--contracts 10000] [--decisions 200000]
    python bench/products_bench.py catalog [--sizes 1000,10000,20000] [--rounds 60]
                                           [--backend sqlite|postgresql]
    python bench/products_bench.py delivery [--rows 20000] [--page 100] [--seconds 20]

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

2. ``catalog`` — **product catalog search.** Fills a scratch database (SQLite, or the local
   PostgreSQL test database with ``--backend postgresql``) with listed data products whose names
   and descriptions are drawn from the demo's vocabulary (a resource-like name, a sector, a
   kind) and builds the catalog's index, then times the catalog search the console and the API
   run — the index matched with data/search's bigram tokens, ranked, counted by facet, one page
   read — for a two-word query, a one-word query, a one-character prefix, a word with a facet and
   a facet with no words. The reference, in the same run and taking turns call by call, is the
   plain SQL a naive catalog would run: ``name LIKE '%term%'`` over the products, counted and one
   page read. p50 and p95 of ``--rounds`` after one to warm up. Aim: p95 < 50 ms at 10,000.

3. ``delivery`` — **a metered delivery against an unmetered read.** A scratch SQLite database
   with a graded resource of ``--rows`` rows (eight data items, no personal data), offered by an
   operator company as a data API under a live operation agreement, and a customer company
   holding a contract for it (negotiated through every protocol state, no call or row limit)
   and its per-contract key. Each metered delivery is what ``GET
   /api/v1/products/contracts/{id}/rows`` does for a page of ``--page`` rows, in its own
   transaction: lock the contract, check its key, state and operation agreement, decide its
   ODRL policy on its meters, the traced read with the contract as basis, size the rows,
   record the delivery with its price, update the meters. The reference, in the same run and
   taking turns page by page, is the unmetered traced read of the same page under the same
   basis (the contract, every data item of the resource) (``sharing.read_rows_under``: field check, masking plan, ledger entry, access log), in
   its own transaction. Aim: metered ≤ 1.5 × the reference.
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
        session.flush()
        service.reindex_catalog(session)  # the catalog's index, as listing each would write it


def _times(fns: list[Any], rounds: int) -> list[list[float]]:
    """Milliseconds of each call, the functions taking turns call by call (after one each to
    warm up), so that the machine speeding up or slowing down weighs on each alike."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - start) * 1000)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def bench_catalog(sizes: str, rounds: int, backend: str) -> None:
    print("| listed products | query | search p50 ms | p95 ms | LIKE reference p50 ms | p95 ms "
          "| ÷ reference at p95 | matches |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    worst: dict[int, float] = {}
    for n in (int(s) for s in sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            db = open_db(backend, Path(tmp))
            fill(db, n)
            if backend == "postgresql":  # as autovacuum would after a bulk load
                with db.engine.connect() as c:
                    c.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "VACUUM ANALYZE"
                    )
            with db.session_scope(readonly=True) as session:
                for label, query, like in (
                    ("两词 鼓楼 公交", CatalogQuery(q="鼓楼 公交"), "公交"),
                    ("一词 空气质量", CatalogQuery(q="空气质量"), "空气质量"),
                    ("一字 公 (prefix)", CatalogQuery(q="公"), "公"),
                    ("词 + facet 公交, api", CatalogQuery(q="公交", kind="api"), "公交"),
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

                    a, b = _times([ours, reference], rounds)
                    a95, b95 = _p95(a), _p95(b)
                    worst[n] = max(worst.get(n, 0.0), a95)
                    print(f"| {n:,} | {label} | {statistics.median(a):.1f} | {a95:.1f} | "
                          f"{statistics.median(b):.1f} | {b95:.1f} | {a95 / b95:.1f} | "
                          f"{found.total:,} |")  # fmt: skip
            db.dispose()
    for n, p95 in worst.items():
        if n == 10_000:
            print(f"aim p95 < 50 ms at 10,000 products: {'met' if p95 < 50 else 'NOT met'} "
                  f"(slowest query's p95 {p95:.1f} ms)")  # fmt: skip


def _company(session: Any, code: str, name: str, n: int) -> None:
    from citybase.core.codes import credit_code_check_char
    from citybase.core.ledger.schemas import Actor
    from citybase.core.orgs import service as orgs
    from citybase.core.orgs.schemas import UnitCreate, UnitKind

    first17 = f"91350100MA2BE{n:04d}"
    orgs.create_unit(session, Actor.system("bench"), UnitCreate(
        code=code, name=name, region_code="350100", kind=UnitKind.enterprise,
        credit_code=first17 + credit_code_check_char(first17)))  # fmt: skip


def delivery_city(db: Any, rows: int) -> tuple[int, str, str]:
    """The resource, the product, the contract and its key; returns (contract id, resource
    code, the key's secret)."""
    from citybase.core.identity import service as identity
    from citybase.core.identity.schemas import Role, UserCreate
    from citybase.core.ledger.schemas import Actor
    from citybase.core.orgs import service as orgs
    from citybase.core.settings import Settings
    from citybase.data.catalog import service as catalog
    from citybase.data.catalog.schemas import ResourceCreate, Transition
    from citybase.data.datastore import service as datastore
    from citybase.data.grading import service as grading
    from citybase.data.grading.schemas import Decision, Level, ScanRequest
    from citybase.data.products.schemas import (
        AgreementAction,
        AgreementCreate,
        AgreementReview,
        ContractTerms,
        NegotiationCreate,
        ProductAction,
        ProductCreate,
        ProductReview,
    )  # fmt: skip
    from citybase.demo.seed import DEMO_FILE

    items = [{"name": n, "data_type": "string", "length": 60} for n in
             ("井盖编号", "道路名称", "所在区", "权属单位", "材质", "状态", "巡查日期", "备注")]  # fmt: skip
    rng = random.Random(11)
    data = [{"井盖编号": f"JG{i:07d}", "道路名称": rng.choice(["五四路", "八一七北路", "古田路"]),
             "所在区": rng.choice(["鼓楼区", "台江区", "仓山区"]), "权属单位": "市政中心",
             "材质": rng.choice(["铸铁", "复合材料"]), "状态": rng.choice(["完好", "破损", "缺失"]),
             "巡查日期": "2026-11-01", "备注": "例行巡查"} for i in range(rows)]  # fmt: skip
    settings = Settings()
    s = settings.products
    with db.session_scope() as session:
        orgs.import_orgs(session, Actor.system("bench"), DEMO_FILE.name, DEMO_FILE.read_bytes())
        _company(session, "op.bench", "基准数据运营有限公司", 1)
        _company(session, "cu.bench", "基准数据应用有限公司", 2)
        for username, role, unit in (("admin", Role.platform_admin, "fz.bigdata"),
                                     ("operator", Role.data_operator, "op.bench"),
                                     ("customer", Role.data_consumer, "cu.bench")):  # fmt: skip
            identity.create_user(session, None, UserCreate(
                username=username, display_name=username, password="bench-password-1",  # noqa: S106 -- a throwaway database
                unit_code=unit, roles=[role]), actor=Actor.system("bench"))  # fmt: skip
        admin = identity.principal_for(session, "admin")
        resource = catalog.create_resource(session, admin, ResourceCreate.model_validate({
            "classification": "301004", "provider_unit_code": "fz.urban",
            "name": "城市道路井盖信息（基准）", "abstract": "基准测试用的井盖巡查记录。",
            "format": "database", "share_type": "conditional", "share_condition": "履职需要",
            "share_method": "接口", "open_type": "none", "update_cycle": "daily", "items": items,
        }))  # fmt: skip
        for action in ("submit", "approve", "register", "publish"):
            catalog.transition(session, admin, resource.code, action, Transition())
        code = resource.code
    with db.session_scope() as session:
        admin = identity.principal_for(session, "admin")
        datastore.load_rows(session, admin, code, data, "bench")
        grading.scan_resource(session, admin, code, ScanRequest(rows=data[:200]))
        grading.decide(session, admin, code, Decision(level=Level.general_2, reason="bench"))
        today = datetime.now(UTC).date()
        deal = service.grant_agreement(session, admin, s, AgreementCreate(
            title="基准授权运营协议", operator_unit_code="op.bench", resource_codes=[code],
            purposes=["城市治理"], starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=365), security_duties="数据不出域", price_policy="priced"))  # fmt: skip
        service.review_agreement(
            session, admin, s, deal.id, AgreementReview(approve=True, reason="基准")
        )
        service.sign_agreement(session, admin, s, deal.id, AgreementAction(reason="基准"))
        operator = identity.principal_for(session, "operator")
        product = service.register_product(session, operator, ProductCreate(
            name="井盖巡查数据接口（基准）", kind="api", source_codes=[code], update_cycle="daily",
            price_model="per_call", price_yuan="0.10", agreement_number=deal.number))  # fmt: skip
        service.review_product(
            session, admin, s, product.id, ProductReview(approve=True, reason="基准")
        )
        service.list_product(session, admin, s, product.id, ProductAction(reason="基准"))
        customer = identity.principal_for(session, "customer")
        asked = service.request_product(
            session, customer, product.id, NegotiationCreate(purpose="城市治理")
        )
        service.agree_contract(session, admin, s, asked.id, ContractTerms(
            ends_on=today + timedelta(days=300), reason="基准"))  # fmt: skip
        done = service.verify_agreement(session, customer, s, asked.id)
        assert done.contract_id is not None
        contract_id = done.contract_id
    with db.session_scope() as session:  # a key is made from a signed-in session
        customer = identity.principal_for(session, "customer").model_copy(update={"via": "session"})
        secret = service.issue_contract_key(session, customer, settings, contract_id).secret
    return contract_id, code, secret


def bench_delivery(rows: int, page: int, seconds: float) -> None:
    from citybase.core.identity import service as identity
    from citybase.core.settings import Settings
    from citybase.data.datastore.schemas import RowQuery
    from citybase.data.masking import operators as ops
    from citybase.data.products.schemas import DeliveryAsk, DeliveryPage
    from citybase.data.sharing import service as sharing
    from citybase.data.sharing.schemas import Basis, ReadContext

    keys = ops.keys_for("5a" * 32)
    ctx = ReadContext(purpose="城市治理")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db("sqlite", Path(tmp))
        contract_id, code, secret = delivery_city(db, rows)
        with db.session_scope(readonly=True) as session:
            holder = identity.principal_from_api_key(session, secret)
            assert holder is not None
            admin = identity.principal_for(session, "admin")
            number = service.get_accessible_contracts(session, admin, Settings().products)[0].number
        basis = Basis(kind="contract", ref=number, legal_basis=f"数据产品合同 {number}",
                      fields=(), purpose="城市治理", consumer="cu.bench",
                      action="products.delivery")  # fmt: skip
        pages = max(1, rows // page)

        def metered(n: int) -> int:
            with db.session_scope() as session:
                got = service.deliver(session, holder, keys, contract_id, ctx,
                                      DeliveryAsk(limit=page, offset=(n % pages) * page))  # fmt: skip
                assert isinstance(got, DeliveryPage), got
                return len(got.rows)

        def unmetered(n: int) -> int:
            with db.session_scope() as session:
                got = sharing.read_rows_under(session, holder, code, ctx,
                                              RowQuery(limit=page, offset=(n % pages) * page),
                                              keys, basis)  # fmt: skip
                assert not isinstance(got, sharing.Refused), got
                return len(got.page.rows)

        kinds = [metered, unmetered]
        spent = [0.0, 0.0]
        calls = [0, 0]
        n, start = 0, time.perf_counter()
        metered(0), unmetered(0)  # warm up
        while time.perf_counter() - start < seconds * 2:
            for k, fn in enumerate(kinds):
                began = time.perf_counter()
                fn(n)
                spent[k] += time.perf_counter() - began
                calls[k] += 1
            n += 1
        db.dispose()
    a, b = (spent[k] / calls[k] * 1000 for k in range(2))
    print("| rows in the resource | page | metered delivery ms | unmetered traced read ms | "
          "÷ reference | deliveries each |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(f"| {rows:,} | {page:,} | {a:.2f} | {b:.2f} | {a / b:.2f} | {calls[0]:,} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest="part", required=True)
    policies = parts.add_parser("policies", help="usage-policy decisions over live contracts")
    policies.add_argument("--contracts", type=int, default=10_000)
    policies.add_argument("--decisions", type=int, default=200_000)
    catalog = parts.add_parser("catalog", help="product catalog search over many listed products")
    catalog.add_argument("--sizes", default="1000,10000,20000")
    catalog.add_argument("--rounds", type=int, default=60)
    catalog.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    delivery = parts.add_parser("delivery", help="a metered delivery against an unmetered read")
    delivery.add_argument("--rows", type=int, default=20_000)
    delivery.add_argument("--page", type=int, default=100)
    delivery.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.part == "policies":
        bench_policies(args.contracts, args.decisions)
    elif args.part == "catalog":
        bench_catalog(args.sizes, args.rounds, args.backend)
    elif args.part == "delivery":
        bench_delivery(args.rows, args.page, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
