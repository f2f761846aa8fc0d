from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.db.engine import Database
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import ResourceUpdate
from citybase.data.grading import service as grading
from citybase.data.grading.schemas import Decision, Level, ScanRequest
from citybase.data.search import service
from citybase.data.search.schemas import SearchQuery, Sort
from tests.core.identity.factories import principal_of
from tests.data.catalog.factories import catalog_people, make_published, make_resource

FUND = {
    "name": "住房公积金缴存信息",
    "abstract": "职工住房公积金的缴存单位、缴存基数与月缴存额。",
    "keywords": ["公积金", "缴存"],
    "theme_tags": ["住房保障"],
    "base_tags": ["population"],
}


def _index_all(session: Session) -> None:
    service.reindex(session, [r.code for r in catalog.registered_resources(session)])


def test_a_part_of_a_chinese_name_finds_the_resource_ranked_by_where_it_matched(
    session: Session,
) -> None:
    people = catalog_people(session)
    fund = make_published(session, people, **FUND)
    other = make_published(
        session, people, name="个人信用档案", abstract="含住房公积金缴存记录的个人信用信息。"
    )
    make_published(session, people, name="城市道路井盖信息")
    _index_all(session)
    result = service.search(session, people["reader"], SearchQuery(q="公积金"))
    assert [h.code for h in result.hits] == [fund.code, other.code]  # name before abstract
    assert result.total == 2
    assert result.hits[0].score > result.hits[1].score
    # every term must match; a one-character term matches as a prefix
    assert service.search(session, people["reader"], SearchQuery(q="公积金 道路")).total == 0
    assert service.search(session, people["reader"], SearchQuery(q="道")).total == 1
    # data items and keywords are searched too
    assert service.search(session, people["reader"], SearchQuery(q="权属单位")).total == 3


def test_facets_count_the_match_and_chosen_values_narrow_it(session: Session) -> None:
    people = catalog_people(session)
    fund = make_published(session, people, **FUND)
    make_published(session, people, name="住房保障对象信息", theme_tags=["住房保障"],
                   share_type="conditional", share_condition="用于住房保障审核")  # fmt: skip
    make_published(session, people, name="城市道路井盖信息")
    _index_all(session)
    reader = people["reader"]
    result = service.search(session, reader, SearchQuery(q="住房"))
    assert result.total == 2
    themes = {v.value: v.count for v in result.facets["theme"]}
    assert themes == {"住房保障": 2}
    assert {v.value: v.count for v in result.facets["share_type"]} == {
        "unconditional": 1, "conditional": 1,
    }  # fmt: skip
    unit = result.facets["unit"][0]
    assert (unit.value, unit.count, unit.label) == ("fz.urban", 2, "福州市城市管理委员会")
    narrowed = service.search(session, reader, SearchQuery(q="住房", base="population"))
    assert [h.code for h in narrowed.hits] == [fund.code]
    assert (
        service.search(session, reader, SearchQuery(q="住房", share_type="conditional")).total == 1
    )
    assert service.search(session, reader, SearchQuery(region="350100")).total == 3
    everything = service.search(session, reader, SearchQuery(sort=Sort.name))
    assert [h.name for h in everything.hits] == sorted(h.name for h in everything.hits)


def test_search_shows_only_what_the_principal_may_see(session: Session) -> None:
    people = catalog_people(session)
    draft = make_resource(session, people["urbansteward"], **FUND)
    service.index_resource(session, draft.code)
    assert service.search(session, people["reader"], SearchQuery(q="公积金")).total == 0
    assert service.search(session, people["urbansteward"], SearchQuery(q="公积金")).total == 1
    assert service.search(session, people["root"], SearchQuery(q="公积金")).total == 1
    # the open catalog holds only published resources that are open
    assert service.search_open(session, SearchQuery(q="公积金")).total == 0


def test_the_open_catalog_holds_published_open_resources(session: Session) -> None:
    people = catalog_people(session)
    opened = make_published(session, people, **FUND, open_type="unconditional")
    registered = make_published(session, people, until="register", name="公积金贷款信息",
                                open_type="unconditional")  # fmt: skip
    _index_all(session)
    assert [h.code for h in service.search_open(session, SearchQuery(q="公积金")).hits] == [
        opened.code
    ]
    assert registered.status.value == "registered"


def test_changes_and_levels_reach_the_index_and_removed_documents_go(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"], **FUND)
    service.index_resource(session, r.code)
    catalog.update_resource(
        session, people["urbansteward"], r.code, ResourceUpdate(name="公积金提取信息", note="改名")
    )
    grading.scan_resource(
        session, people["urbansteward"], r.code, ScanRequest(rows=[{"井盖编号": "A1"}])
    )
    grading.decide(session, people["urbansteward"], r.code, Decision(level=Level.general_2,
                   reason="单位内部数据"))  # fmt: skip
    service.index_resource(session, r.code)
    hit = service.search(session, people["urbansteward"], SearchQuery(q="提取")).hits[0]
    assert (hit.name, hit.level, hit.version) == ("公积金提取信息", "general_2", 2)
    assert service.search(session, people["urbansteward"], SearchQuery(q="缴存信息")).total == 0


def test_punctuation_alone_matches_nothing(session: Session) -> None:
    people = catalog_people(session)
    make_published(session, people, **FUND)
    _index_all(session)
    assert service.search(session, people["reader"], SearchQuery(q="，。")).total == 0


def test_the_index_follows_the_catalog_through_its_events(fresh_db: Database) -> None:
    with fresh_db.session_scope() as session:
        people = catalog_people(session)
        make_published(session, people, **FUND)
        assert service.search(session, people["reader"], SearchQuery(q="公积金")).total == 0
    bus.dispatch_in_process(fresh_db)
    with fresh_db.session_scope(readonly=True) as session:
        reader = principal_of(session, "reader")
        assert service.search(session, reader, SearchQuery(q="公积金")).total == 1
