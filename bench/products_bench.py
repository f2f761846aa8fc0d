"""Product catalog search benchmark: ``search_catalog`` over many listed products.

    python bench/products_bench.py [--sizes 1000,5000,20000] [--rounds 15]

Fills a scratch SQLite database with listed data products whose names and descriptions are drawn
from the demo's vocabulary (a resource-like name, a sector, a kind), then times the catalog
search the console and the API run — the listed products on offer read, matched with data/
search's bigram tokens, ranked, counted by facet, one page read — for a two-word query, a
one-word query and a facet with no words. The reference, in the same run, is the plain SQL a
naive catalog would run: ``name LIKE '%term%'`` over the same table, counted and one page read.
Each figure is the median of ``--rounds`` after one to warm up.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
from benchdb import open_db
from citybase.data.products import service
from citybase.data.products.models import DataProduct
from citybase.data.products.schemas import CatalogQuery
from citybase.data.search import tokens

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print("| listed products | query | search ms | LIKE reference ms | ÷ reference | matches |")
    print("|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
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

                    a, b = median_ms(ours, args.rounds), median_ms(reference, args.rounds)
                    print(f"| {n:,} | {label} | {a:.1f} | {b:.1f} | {a / b:.0f} | "
                          f"{found.total:,} |")  # fmt: skip
            db.dispose()


if __name__ == "__main__":
    main()
