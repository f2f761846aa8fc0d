"""The product catalog's own index: kept with listing and delisting, and searching exactly as
the catalog always has (every term as a phrase of bigrams, ranked by occurrences, a name match
weighing three times), on both databases."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.settings import Settings
from citybase.data.products import service
from citybase.data.products.models import CatalogEntry, DataProduct
from citybase.data.products.schemas import AgreementAction, CatalogQuery, ProductAction
from citybase.data.search import tokens
from tests.data.products.factories import listed_product, products_city

SUBJECTS = ["公交线路", "井盖巡查", "空气质量", "停车场泊位", "5G基站", "GB标准", "道路设施"]
AREAS = ["鼓楼区", "台江区", "全市", "鼓楼公交"]
SECTORS = ["交通出行", "城市治理", "", "绿色低碳"]
KINDS = ["dataset", "api", "report", "sandbox"]
PRICES = ["free", "per_call", "per_row", "monthly"]
QUERIES = ["公交", "鼓楼 公交", "井", "空气质量", "5g", "gb", "鼓楼区", "交通", "线路 鼓楼",
           "巡查 报告", "设施", "桥梁", "公", "、", "月更新"]  # fmt: skip


def _matches(doc: str, terms: list[list[str]]) -> int:
    """The catalog's matching as it was done in the application over every listed product,
    kept here as the oracle the index must agree with."""
    total = 0
    for term in terms:
        hits = (
            doc.count(" " + term[0][:-1])
            if term[0].endswith("*")
            else doc.count(" " + " ".join(term) + " ")
        )
        if not hits:
            return 0
        total += hits
    return total


def _expected(rows: list[DataProduct], query: CatalogQuery) -> tuple[list[int], dict[str, dict]]:
    rows = sorted(rows, key=lambda p: (-p.listed_at.timestamp(), p.id))  # type: ignore[union-attr]
    for facet in ("kind", "sector", "price_model"):
        value = getattr(query, facet)
        value = getattr(value, "value", value)
        if value:
            rows = [p for p in rows if getattr(p, facet) == value]
    terms = tokens.query_terms(query.q)
    if terms:
        scored = []
        for p in rows:
            hits = _matches(f" {p.search_tokens} ", terms)
            if hits:
                scored.append((3 * _matches(f" {tokens.index_text(p.name)} ", terms) + hits, p))
        scored.sort(key=lambda pair: -pair[0])
        rows = [p for _, p in scored]
    facets: dict[str, dict] = {"kind": {}, "sector": {}, "price_model": {}}
    for p in rows:
        for facet, counts in facets.items():
            if getattr(p, facet):
                counts[getattr(p, facet)] = counts.get(getattr(p, facet), 0) + 1
    return [p.id for p in rows], facets


def _generated(session: Session, n: int) -> list[DataProduct]:
    rng = random.Random(7)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        subject, area, sector = rng.choice(SUBJECTS), rng.choice(AREAS), rng.choice(SECTORS)
        name = f"{area}{subject}" + ("公交" if rng.random() < 0.2 else "") + "数据"
        description = f"基于{area}{subject}数据加工，按月更新，服务{sector or '城市'}场景。"
        rows.append(DataProduct(
            number=f"CP-T-{i:04d}", name=name, kind=rng.choice(KINDS), owner_unit_code="fz.urban",
            description=description, sector=sector, source_codes=[], update_cycle="monthly",
            price_model=rng.choice(PRICES), status="listed" if i % 9 else "delisted",
            registered_by="test", listed_at=start + timedelta(hours=rng.randint(0, 40)),
            search_tokens=tokens.index_text(name, sector, description),
        ))  # fmt: skip
    session.add_all(rows)
    session.flush()
    return rows


def test_the_index_answers_as_the_catalog_always_did(session: Session) -> None:
    rows = _generated(session, 240)
    assert service.reindex_catalog(session) == sum(1 for p in rows if p.status == "listed")
    listed = [p for p in rows if p.status == "listed"]
    asked = [CatalogQuery(q=q, limit=100) for q in QUERIES] + [
        CatalogQuery(q="公交", kind="api", limit=100),
        CatalogQuery(sector="交通出行", price_model="free", limit=100),
        CatalogQuery(q="鼓楼", limit=7, offset=7),
        CatalogQuery(limit=100, offset=150),
    ]
    for query in asked:
        ids, facets = _expected(listed, query)
        found = service.search_catalog(session, query)
        assert found.total == len(ids), query
        assert [p.id for p in found.products] == ids[query.offset : query.offset + query.limit]
        assert {f: {v.value: v.count for v in vs} for f, vs in found.facets.items()} == facets
        for values in found.facets.values():  # most first
            assert [v.count for v in values] == sorted((v.count for v in values), reverse=True)


def test_more_occurrences_and_a_name_match_rank_first(session: Session, settings: Settings) -> None:
    city = products_city(session, settings)
    in_description = listed_product(session, city, name="城市部件统计报告", kind="report",
                                    description="井盖巡查汇总")  # fmt: skip
    in_name = listed_product(session, city, name="井盖巡查数据接口")
    twice = listed_product(session, city, name="井盖巡查与井盖更换数据接口")
    found = service.search_catalog(session, CatalogQuery(q="井盖"))
    assert [p.id for p in found.products] == [twice, in_name, in_description]


def test_listing_and_delisting_keep_the_index(session: Session, settings: Settings) -> None:
    city = products_city(session, settings)
    s = city.settings.products

    def indexed() -> set[int]:
        return set(session.scalars(select(CatalogEntry.product_id)))

    first = listed_product(session, city)
    second = listed_product(
        session, city, name="道路设施统计报告", kind="report", description="按月汇总道路设施"
    )
    assert indexed() == {first, second}
    service.delist_product(session, city.bureau, s, first, ProductAction(reason="整改"))
    assert indexed() == {second}
    assert [p.id for p in service.search_catalog(session, CatalogQuery(q="井盖")).products] == []
    service.list_product(session, city.bureau, s, first, ProductAction(reason="整改完成"))
    assert indexed() == {first, second}
    assert [p.id for p in service.search_catalog(session, CatalogQuery(q="井盖")).products] == [
        first
    ]
    service.suspend_agreement(session, city.bureau, s, city.agreement.id,
                              AgreementAction(reason="安全整改"))  # fmt: skip
    assert indexed() == set()
    assert session.scalar(select(func.count()).select_from(CatalogEntry)) == 0


@pytest.mark.parametrize("shift", [-400, 400])
def test_products_under_an_agreement_not_live_that_day_are_not_found(
    session: Session, settings: Settings, shift: int
) -> None:
    city = products_city(session, settings)
    listed_product(session, city)
    day: date = clock.today() + timedelta(days=shift)
    assert service.search_catalog(session, CatalogQuery(q="井盖")).total == 1
    assert service.search_catalog(session, CatalogQuery(q="井盖"), today=day).total == 0
    assert service.search_catalog(session, CatalogQuery(), today=day).total == 0
