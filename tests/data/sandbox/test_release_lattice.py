"""The hierarchies and the search of de-identified releases, on rows made here."""

from __future__ import annotations

import pytest

from citybase.core.errors import InvalidInput
from citybase.data.sandbox import release_lattice as lattice
from citybase.data.sandbox.release_schemas import Hierarchy

REGIONS = lattice.Regions.of([
    lattice.Region("350100", "福州市", "city", ""),
    lattice.Region("350102", "鼓楼区", "district", "350100"),
    lattice.Region("350102001", "鼓东街道", "street", "350102"),
    lattice.Region("350103", "台江区", "district", "350100"),
])  # fmt: skip


def _ladder(kind: str, levels: list, values: list, column: str = "c") -> lattice.Ladder:  # type: ignore[type-arg]
    return lattice.ladder_of(column, Hierarchy.model_validate({"kind": kind, "levels": levels}),
                             values, REGIONS)  # fmt: skip


def test_each_hierarchy_lifts_its_values_level_by_level() -> None:
    dates = _ladder("date", ["month", "year"], ["1980-03-07", "1980年3月9日"])
    assert dates.lifted == [["1980-03-07", "1980-03-09"], ["1980-03"] * 2, ["1980"] * 2,
                            ["*"] * 2]  # fmt: skip
    ages = _ladder("age", [5, 10], [33, "37"])
    assert ages.lifted[1:] == [["30-34", "35-39"], ["30-39"] * 2, ["*"] * 2]
    regions = _ladder("region", ["street", "district", "city"],
                      ["350102001", "福州市鼓楼区鼓东街道五四路1号"])  # fmt: skip
    assert regions.lifted[1:] == [["福州市鼓楼区鼓东街道"] * 2, ["福州市鼓楼区"] * 2,
                                  ["福州市"] * 2, ["*"] * 2]  # fmt: skip
    prefix = _ladder("prefix", [3, 1], ["350102", "35"])
    assert prefix.lifted[1:] == [["350*", "35"], ["3*", "3*"], ["*", "*"]]


def test_values_already_coarser_start_the_ladder_higher() -> None:
    # a grade that cut birth dates to their year: months cannot be told, the floor is the year
    dates = _ladder("date", ["month", "year"], ["1980", "1981-02-03"])
    assert (dates.floor, dates.lifted[2]) == (2, ["1980", "1981"])
    bands = _ladder("age", [5, 10, 20], ["30-39", 45])  # a grade's ten-year band
    assert (bands.floor, bands.lifted[2], bands.lifted[3]) == (2, ["30-39", "40-49"],
                                                               ["20-39", "40-59"])  # fmt: skip
    district = _ladder("region", ["street", "district"], ["台江区", "350102001"])
    assert (district.floor, district.lifted[2]) == (2, ["福州市台江区", "福州市鼓楼区"])


def test_values_of_another_kind_are_refused_naming_the_column() -> None:
    with pytest.raises(InvalidInput) as caught:
        _ladder("date", ["year"], ["1980-01-01", "不详"])
    assert caught.value.field == "quasi_identifiers.c"
    assert "不详" in caught.value.message


def test_the_search_keeps_the_lowest_node_that_qualifies_and_suppresses_the_rest() -> None:
    # twelve people in two districts; one outlier born alone in 1950
    births = ["1980-01-01"] * 6 + ["1981-05-05"] * 5 + ["1950-01-01"]
    places = ["350102001"] * 6 + ["350103"] * 6
    ladders = [
        _ladder("date", ["year"], births, "出生"),
        _ladder("region", ["district", "city"], places, "街道"),
    ]
    found = lattice.search(ladders, None, 5, 1, max_suppression=0.1)
    assert found.qualified
    # nothing generalised: the outlier's class of one is suppressed (1 of 12 ≤ 10 %)
    assert found.levels == {"出生": 0, "街道": 0}
    assert found.suppressed == 1
    assert 11 not in found.kept
    assert len(found.kept) == 11
    assert found.smallest == 5
    # with no suppression allowed the year must go
    strict = lattice.search(ladders, None, 5, 1, max_suppression=0)
    assert strict.qualified
    assert strict.suppressed == 0
    assert sum(strict.levels.values()) > sum(found.levels.values())


def test_l_diversity_suppresses_classes_with_one_sensitive_value() -> None:
    births = ["1980"] * 5 + ["1990"] * 5
    ladder = [_ladder("date", ["year"], births)]
    sensitive = ["甲", "乙", "甲", "乙", "甲"] + ["丙"] * 5
    found = lattice.search(ladder, sensitive, 5, 2, max_suppression=0.5)
    assert found.kept == [0, 1, 2, 3, 4]
    rows = [{"c": births[i], "s": sensitive[i]} for i in found.kept]
    assert lattice.measure(rows, ["c"], "s") == (5, 2)
    # allowed to suppress less than half, it generalises the year away instead
    top = lattice.search(ladder, sensitive, 5, 2, max_suppression=0.4)
    assert (top.levels, top.suppressed, top.smallest) == ({"c": 2}, 0, 10)


def test_sweeneys_precision_counts_suppressed_rows_as_fully_generalised() -> None:
    ladders = [_ladder("date", ["month", "year"], ["1980-01-01"] * 4)]
    assert lattice.precision(ladders, {"c": 0}, 4, 4) == 1.0
    assert lattice.precision(ladders, {"c": 3}, 4, 4) == 0.0
    assert lattice.precision(ladders, {"c": 2}, 3, 4) == round(1 - (3 * 2 / 3 + 1) / 4, 4)
