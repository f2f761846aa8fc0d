from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.orgs import service
from citybase.core.orgs.schemas import RegionLevel, RegionUpdate, UnitUpdate
from tests.core.orgs.factories import TEST_ACTOR, make_city, make_region, make_small_city, make_unit


def test_region_tree_and_path(session: Session) -> None:
    make_small_city(session)
    path = service.region_path(session, "350102001")
    assert [r.code for r in path] == ["350100", "350102", "350102001"]
    tree = service.region_tree(session)
    assert [n["region"].code for n in tree] == ["350100"]
    assert [c["region"].code for c in tree[0]["children"]] == ["350102", "350103"]
    assert service.descendant_codes(session, "350102") == {"350102", "350102001"}


@pytest.mark.parametrize(
    ("code", "level", "parent", "field", "reason"),
    [
        ("350104", RegionLevel.street, "350100", "parent_code", "directly under"),
        ("3501020", RegionLevel.district, "350100", "code", "6 digits"),
        ("360102", RegionLevel.district, "350100", "code", "not in city"),
        ("350103001", RegionLevel.street, "350102", "code", "does not start"),
        ("350199", RegionLevel.district, "999999", "parent_code", "does not exist"),
    ],
)
def test_region_placement_is_checked(
    session: Session, code: str, level: RegionLevel, parent: str, field: str, reason: str
) -> None:
    make_city(session)
    make_region(session, "350102", "鼓楼区", RegionLevel.district, "350100")
    with pytest.raises(InvalidInput) as caught:
        make_region(session, code, "x", level, parent)
    assert caught.value.field == field
    assert reason in caught.value.message


def test_local_code_for_a_zone_without_an_official_one(session: Session) -> None:
    make_city(session)
    zone = make_region(
        session, "350100GX", "高新区", RegionLevel.district, "350100", official=False
    )
    assert not zone.official


def test_duplicate_region_is_a_conflict(session: Session) -> None:
    make_city(session)
    with pytest.raises(Conflict) as caught:
        make_city(session)
    assert caught.value.field == "code"


def test_units_with_counterparts_and_filters(session: Session) -> None:
    make_small_city(session)
    unit = service.get_unit(session, "gl.urban")
    assert unit.counterpart_code == "fz.urban"
    assert unit.region_name == "鼓楼区"
    assert {u.code for u in service.list_units(session, region_code="350100")} == {
        "fz.bigdata",
        "fz.urban",
    }
    everything = service.list_units(session, region_code="350100", include_subregions=True)
    assert len(everything) == 3
    assert [u.code for u in service.list_units(session, search="城市管理")] == [
        "fz.urban",
        "gl.urban",
    ]


def test_unit_errors_name_the_field(session: Session) -> None:
    make_small_city(session)
    with pytest.raises(Conflict) as dup:
        make_unit(session, "fz.urban")
    assert dup.value.field == "code"
    with pytest.raises(InvalidInput) as region:
        make_unit(session, "x.y", region="999999")
    assert region.value.field == "region_code"
    with pytest.raises(InvalidInput) as counterpart:
        make_unit(session, "x.z", counterpart="nope")
    assert counterpart.value.field == "counterpart_code"
    with pytest.raises(InvalidInput) as itself:
        service.update_unit(
            session, TEST_ACTOR, "fz.urban", UnitUpdate(counterpart_code="fz.urban")
        )
    assert itself.value.field == "counterpart_code"
    with pytest.raises(NotFound):
        service.get_unit(session, "nope")


def test_changes_are_on_the_ledger_and_the_outbox(session: Session) -> None:
    make_small_city(session)
    service.update_unit(session, TEST_ACTOR, "fz.urban", UnitUpdate(short_name="市城管委"))
    service.update_region(session, TEST_ACTOR, "350102", RegionUpdate(name="鼓楼区"))  # no change
    entries, _ = ledger.find_entries(
        session, LedgerFilter(object_type="unit", object_id="fz.urban")
    )
    assert [e.action for e in entries] == ["unit.update", "unit.create"]
    assert entries[0].details == {"changes": {"short_name": ["", "市城管委"]}}
    region_entries, _ = ledger.find_entries(session, LedgerFilter(object_id="350102"))
    assert [e.action for e in region_entries] == ["region.create"]


def test_credit_code_is_checked(session: Session) -> None:
    make_small_city(session)
    with pytest.raises(ValueError, match="GB 32100"):
        UnitUpdate.model_validate({"credit_code": "91350100M000100Y4X"})
    # a valid code (check character computed per GB 32100) is accepted and kept unique
    updated = service.update_unit(
        session, TEST_ACTOR, "fz.urban", UnitUpdate(credit_code="91350100M000100Y43")
    )
    assert updated.credit_code == "91350100M000100Y43"
    with pytest.raises(Conflict):
        service.update_unit(
            session, TEST_ACTOR, "fz.bigdata", UnitUpdate(credit_code="91350100M000100Y43")
        )


REGIONS_CSV = """code,name,level,kind,parent,official
350102001,鼓东街道,street,街道,350102,true
350100,福州市,city,地级市,,true
350102,鼓楼区,district,市辖区,350100,true
"""


def test_import_csv_applies_parents_first_and_is_idempotent(session: Session) -> None:
    reports = service.import_orgs(session, TEST_ACTOR, "regions.csv", REGIONS_CSV.encode())
    assert reports[0].created == 3
    assert reports[0].applied
    again = service.import_orgs(session, TEST_ACTOR, "regions.csv", REGIONS_CSV.encode())
    assert (again[0].created, again[0].updated, again[0].unchanged) == (0, 0, 3)


def test_import_with_a_bad_row_imports_nothing_and_names_rows(session: Session) -> None:
    bad = REGIONS_CSV + "35010X,坏,district,市辖区,350100,true\n350103,台江区,planet,,350100,true\n"
    reports = service.import_orgs(session, TEST_ACTOR, "regions.csv", bad.encode())
    problems = [(p.row, p.field) for p in reports[0].problems]
    assert (6, "level") in problems
    assert not reports[0].applied
    assert service.list_regions(session) == []
    # a row whose problem only shows when applied (code not of its parent) also imports nothing
    late = REGIONS_CSV + "360103,台江区,district,市辖区,350100,true\n"
    reports = service.import_orgs(session, TEST_ACTOR, "regions.csv", late.encode())
    assert [(p.row, p.field) for p in reports[0].problems] == [(5, "code")]
    assert service.list_regions(session) == []


def test_import_yaml_with_units_and_dry_run(session: Session) -> None:
    make_city(session)
    content = """
units:
  - {code: gl.urban, name: 鼓楼区城管局, region: '350100', counterpart: fz.urban}
  - {code: fz.urban, name: 市城管委, region: '350100'}
"""
    dry = service.import_orgs(session, TEST_ACTOR, "units.yaml", content.encode(), dry_run=True)
    assert dry[1].created == 2
    assert not dry[1].applied
    assert service.list_units(session) == []
    done = service.import_orgs(session, TEST_ACTOR, "units.yaml", content.encode())
    assert done[1].applied
    assert service.get_unit(session, "gl.urban").counterpart_code == "fz.urban"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("x.txt", b"a,b", "only .csv"),
        ("x.csv", b"foo,bar\n1,2\n", "header"),
        ("x.yaml", b"regions: [1, 2]", "list of mappings"),
        ("x.yaml", b"{unclosed", "YAML"),
        ("x.csv", b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_import_rejects_unreadable_files(
    session: Session, name: str, content: bytes, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason) as caught:
        service.import_orgs(session, TEST_ACTOR, name, content)
    assert caught.value.field == "file"


def test_duplicate_codes_in_one_file(session: Session) -> None:
    content = REGIONS_CSV + "350100,福州,city,,,true\n"
    reports = service.import_orgs(session, TEST_ACTOR, "r.csv", content.encode())
    assert any(p.row == 5 and "repeats row 3" in p.message for p in reports[0].problems)
