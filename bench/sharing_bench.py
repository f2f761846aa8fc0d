"""Sharing benchmarks: reads through a grant, personal-data scanning, quality rules.

    python bench/sharing_bench.py [--backend sqlite|postgresql] [--rows 50000]
        [--scan-mb 20] [--quality-rows 1000000]

1. **Reads through a grant.** A resource of 8 data items (name, citizen ID, mobile, address,
   birth date, sex, a free-text column, an amount), graded 一般数据 4 级, its rows shared with
   another unit. Each read is what ``GET /api/v1/sharing/resources/{code}/rows`` does for a page
   of 1,000 rows, in its own transaction: check the grant and the case number, query, mask every
   cell the plan names (a pseudonym per ID, free text redacted where the personal data found
   when the rows were stored says), append the data subjects, write the ledger entry and the
   access log. The reference reads the same pages straight from the database (``SELECT`` of the
   rows' cells, same page size, one transaction each), in the same run, the kinds of read
   taking turns page by page. Aim: ratio ≥ 0.25.
   Filing the appended subjects into the subject index is the worker's, off the read's path:
   its rate is printed too, and loading the rows includes finding their free text's personal
   data.
2. **Personal-data scanning.** ``grading.find_spans`` (identifiers with their check characters,
   cued names, addresses) over generated free text, in MB/s of UTF-8; the reference is one regex
   for 11 digits over the same text.
3. **Quality rules over 1,000,000 rows.** ``quality.evaluate`` with six rules (not null, unique,
   pattern, value set, range, check characters) over rows held in memory; the reference touches
   the same values in the same loop without checking them. Reading the rows from the datastore
   is measured by the first benchmark's reference.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parent))
from citybase.core.codes import citizen_id_check_char
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceCreate, Transition
from citybase.data.datastore import service as datastore
from citybase.data.datastore.models import DataRow
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Level, ScanRequest
from citybase.data.masking import operators as ops
from citybase.data.quality import service as quality
from citybase.data.quality.schemas import RuleKind, RuleRead
from citybase.data.sharing import access, repository
from citybase.data.sharing import service as sharing
from citybase.data.sharing.schemas import ReadContext, RequestCreate
from citybase.demo.seed import DEMO_FILE
from ledger_bench import fresh_database

PAGE = 1_000
SURNAMES = "王李张刘陈杨黄林郑吴"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"
STREETS = ("五四路", "八一七北路", "古田路", "湖东路", "杨桥中路", "工业路")
DISTRICTS = ("鼓楼区", "台江区", "仓山区", "晋安区")
ITEMS = [
    {"name": "姓名", "data_type": "string", "length": 50, "element": "姓名"},
    {"name": "公民身份号码", "data_type": "string", "length": 18, "element": "公民身份号码"},
    {"name": "手机号码", "data_type": "string", "length": 11, "element": "手机号码"},
    {"name": "住址", "data_type": "string", "length": 200},
    {"name": "出生日期", "data_type": "date"},
    {"name": "性别", "data_type": "string", "length": 2},
    {"name": "情况说明", "data_type": "string", "length": 500},
    {"name": "补贴金额", "data_type": "decimal"},
]


def person(rng: random.Random) -> dict[str, Any]:
    born = f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    first17 = f"{rng.choice(['350102', '350103', '350104'])}{born}{rng.randint(0, 999):03d}"
    name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2)))
    mobile = f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
    where = f"福州市{rng.choice(DISTRICTS)}{rng.choice(STREETS)}{rng.randint(1, 300)}号"
    return {
        "姓名": name, "公民身份号码": first17 + citizen_id_check_char(first17), "手机号码": mobile,
        "住址": where, "出生日期": f"{born[:4]}-{born[4:6]}-{born[6:]}",
        "性别": "男" if int(first17[16]) % 2 else "女",
        "情况说明": rng.choice([
            f"申请人{name}因病致贫，经{rng.choice(DISTRICTS)}民政部门核实，联系电话{mobile}。",
            "家庭人均收入低于当地最低生活保障标准，已入户核查。",
            f"住{where}，独居，由社区网格员定期走访。",
        ]),
        "补贴金额": rng.randint(300, 1500),
    }  # fmt: skip


def setup(db: Any, rows: int) -> tuple[str, Any]:
    rng = random.Random(7)
    with db.session_scope() as session:
        orgs.import_orgs(session, Actor.system("bench"), DEMO_FILE.name, DEMO_FILE.read_bytes())
        for username, role, unit in (("admin", Role.platform_admin, "fz.bigdata"),
                                     ("reader", Role.data_consumer, "fz.health")):  # fmt: skip
            identity.create_user(session, None, UserCreate(
                username=username, display_name=username, password="bench-password-1",  # noqa: S106 -- a throwaway database
                unit_code=unit, roles=[role]), actor=Actor.system("bench"))  # fmt: skip
        admin = identity.principal_for(session, "admin")
        resource = catalog.create_resource(session, admin, ResourceCreate.model_validate({
            "classification": "301004", "provider_unit_code": "fz.civil",
            "name": "最低生活保障对象名单（基准）", "abstract": "基准测试用的低保对象名单及其情况说明。",
            "format": "database", "share_type": "unconditional", "share_method": "接口",
            "open_type": "none", "update_cycle": "monthly", "items": ITEMS,
        }))  # fmt: skip
        for action in ("submit", "approve", "register", "publish"):
            catalog.transition(session, admin, resource.code, action, Transition())
        code = resource.code
    people = [person(rng) for _ in range(rows)]
    with db.session_scope() as session:
        admin = identity.principal_for(session, "admin")
        datastore.load_rows(session, admin, code, people, "bench")
        grading.scan_resource(session, admin, code, ScanRequest(rows=people[:200]))
        grading.decide(session, admin, code, Decision(level=Level.general_4, reason="bench"))
        reader = identity.principal_for(session, "reader")
        sharing.request_share(session, reader, RequestCreate(
            resource_code=code, purpose="医保参保核验", legal_basis="《社会保险法》",
            fields=[i["name"] for i in ITEMS], days=30,
        ))  # fmt: skip
    return code, people


def bench_reads(db: Any, code: str, rows: int, seconds: float) -> tuple[float, float, float, float]:
    keys = ops.keys_for("5a" * 32)
    pages = max(1, rows // PAGE)
    ctx = ReadContext(case_number=f"YB{datetime.now(UTC):%Y%m%d}0001", end_user="bench",
                      purpose="基准")  # fmt: skip

    def direct(page: int) -> int:
        with db.session_scope(readonly=True) as session:
            table_id = datastore_table_id(session, code)
            got = session.scalars(
                select(DataRow.cells).where(DataRow.table_id == table_id)
                .order_by(DataRow.row_no).limit(PAGE).offset(page * PAGE)
            ).all()  # fmt: skip
            return len(got)

    def via_datastore(page: int) -> int:
        with db.session_scope(readonly=True) as session:
            return len(
                datastore.query(session, code, RowQuery(limit=PAGE, offset=page * PAGE)).rows
            )

    def granted(page: int, fields: list[str] | None = None) -> int:
        with db.session_scope() as session:
            reader = identity.principal_for(session, "reader")
            query = RowQuery(limit=PAGE, offset=page * PAGE, fields=fields or [])
            result = access.read_rows(session, reader, code, ctx, query, keys)
            assert isinstance(result, access.Served), result
            return len(result.page.rows)

    structured = [i["name"] for i in ITEMS if i["name"] != "情况说明"]

    # the four take turns page by page, so that a machine that speeds up or slows down during
    # the run (this one does) weighs on each alike
    kinds = [direct, via_datastore, granted, lambda page: granted(page, structured)]
    rows = [0] * len(kinds)
    spent = [0.0] * len(kinds)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds * len(kinds):
        for k, fn in enumerate(kinds):
            began = time.perf_counter()
            rows[k] += fn(n % pages)
            spent[k] += time.perf_counter() - began
        n += 1
    a, b, c, d = (r / t for r, t in zip(rows, spent, strict=True))
    return a, b, c, d


def datastore_table_id(session: Any, code: str) -> int:
    from citybase.data.datastore import repository as ds_repository

    return ds_repository.table_id(session, code)


def bench_scan(megabytes: float, people: list[dict[str, Any]]) -> tuple[float, float, int]:
    rng = random.Random(3)
    parts: list[str] = []
    size = 0
    filler = "经现场核查，该处存在占道经营、噪音扰民等问题，已转交属地街道办理并跟踪回访。"
    while size < megabytes * 1_000_000:
        p = rng.choice(people)
        part = (f"市民{p['姓名']}反映：{p['住址']}附近{filler}联系电话{p['手机号码']}，"
                f"身份证{p['公民身份号码']}。{filler}")  # fmt: skip
        parts.append(part)
        size += len(part.encode())
    text = "".join(parts)
    mb = len(text.encode()) / 1_000_000
    start = time.perf_counter()
    found = sum(len(grading.find_spans(chunk)) for chunk in parts)
    scan = mb / (time.perf_counter() - start)
    digits = re.compile(r"\d{11}")
    start = time.perf_counter()
    for chunk in parts:
        for _ in digits.finditer(chunk):
            pass
    reference = mb / (time.perf_counter() - start)
    return scan, reference, found


def bench_quality(count: int, people: list[dict[str, Any]]) -> tuple[float, float]:
    rows = [people[i % len(people)] | {"序号": i} for i in range(count)]
    now = datetime.now(UTC)

    def rule(n: int, item: str, kind: str, **params: Any) -> RuleRead:
        return RuleRead(id=n, resource_code="B", item=item, kind=RuleKind(kind), params=params,
                        created_by="bench", created_at=now, active=True)  # fmt: skip

    rules = [
        rule(1, "姓名", "not_null"), rule(2, "序号", "unique"),
        rule(3, "手机号码", "pattern", regex=r"1[3-9]\d{9}"),
        rule(4, "性别", "value_set", values=["男", "女"]),
        rule(5, "补贴金额", "range", min=0, max=2000),
        rule(6, "公民身份号码", "check_chars", code="citizen_id"),
    ]  # fmt: skip
    start = time.perf_counter()
    counted, results = quality.evaluate(rules, rows, {})
    engine = counted / (time.perf_counter() - start)
    assert all(r.failed == 0 for r in results), results
    names = [r.item for r in rules]
    start = time.perf_counter()
    touched = 0
    for row in rows:
        for name in names:
            if row.get(name) is not None:
                touched += 1
    reference = count / (time.perf_counter() - start)
    return engine, reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scan-mb", type=float, default=20.0)
    parser.add_argument("--quality-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = fresh_database(args.backend, Path(tmp))
        start = time.perf_counter()
        code, people = setup(db, args.rows)
        print(f"setup: {args.rows:,} rows loaded, graded and granted in "
              f"{time.perf_counter() - start:.0f} s ({args.backend})")  # fmt: skip
        direct, via, granted, structured = bench_reads(db, code, args.rows, args.seconds)
        with db.session_scope(readonly=True) as session:
            reads = repository.access_count(session)
        print(f"rows/s straight from the database (SELECT, pages of {PAGE}): {direct:,.0f}")
        print(f"rows/s through datastore.query (typed, no masking, no log): {via:,.0f}")
        print(f"rows/s through the grant (masking + ledger + access log):   {granted:,.0f}")
        print(f"ratio grant / database: {granted / direct:.2f}   (aim >= 0.25)")
        print(f"rows/s through the grant, the 7 structured fields only:     {structured:,.0f}"
              f"  (ratio {structured / direct:.2f})")  # fmt: skip
        print(f"ratio grant / datastore.query: {granted / via:.2f}   ({reads:,} reads logged)")
        start, filed = time.perf_counter(), 0
        with db.session_scope() as session:
            while moved := sharing.file_subjects(session, reads=100):
                filed += moved
        print(f"subject index filing (the worker's, after the reads): {filed:,} entries in "
              f"{time.perf_counter() - start:.1f} s, "
              f"{filed / (time.perf_counter() - start):,.0f} entries/s")  # fmt: skip
        db.dispose()
    scan, reference, found = bench_scan(args.scan_mb, people)
    print(f"personal-data scanning: {scan:.2f} MB/s ({found:,} spans found); "
          f"one 11-digit regex: {reference:.1f} MB/s; ratio {scan / reference:.3f}")  # fmt: skip
    engine, touch = bench_quality(args.quality_rows, people)
    print(f"quality rules (6 rules) over {args.quality_rows:,} rows: {engine:,.0f} rows/s "
          f"({args.quality_rows / engine:.1f} s); touching the values only: {touch:,.0f} rows/s; "
          f"ratio {engine / touch:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
