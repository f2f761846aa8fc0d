from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.catalog.schemas import DataItemRead, DataType
from citybase.data.datastore import service
from citybase.data.datastore.schemas import RowQuery
from tests.data.catalog.factories import catalog_people, make_published

ITEMS = [
    {"name": "井盖编号", "data_type": "string", "length": 8},
    {"name": "所属区划", "data_type": "string", "length": 20},
    {"name": "直径", "data_type": "decimal"},
    {"name": "巡查次数", "data_type": "integer"},
    {"name": "巡查日期", "data_type": "date", "element": "日期"},
    {"name": "是否破损", "data_type": "boolean"},
]
CSV = (
    "井盖编号,所属区划,直径,巡查次数,巡查日期,是否破损\n"
    "JG001,鼓楼区,0.70,3,2026-11-01,否\n"
    "JG002,台江区,0.8,12,2026/11/02,是\n"
    "JG003,鼓楼区,1.25,7,20261103,\n"
)


@pytest.fixture
def setup(session: Session):  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    resource = make_published(session, people, items=ITEMS)
    return people, resource


def test_cells_are_converted_to_their_items_types() -> None:
    def item(kind: str, length: int | None = None) -> DataItemRead:
        return DataItemRead(name="x", data_type=DataType(kind), length=length)

    assert service.convert("1,200", item("integer")) == 1200
    assert service.convert(12.0, item("integer")) == 12
    assert service.convert("0.70", item("decimal")) == "0.7"
    assert service.convert("2026年1月5日", item("date")) == "2026-01-05"
    assert service.convert("2026-01-05 08:30:00", item("datetime")) == "2026-01-05T08:30:00"
    assert service.convert("是", item("boolean")) is True
    assert service.convert(13800138000.0, item("string")) == "13800138000"
    assert service.convert("  ", item("integer")) is None
    for value, kind, reason in (
        ("1.5", "integer", "whole number"), ("abc", "decimal", "number"),
        ("2026-02-30", "date", "real date"), ("maybe", "boolean", "yes or no"),
        ("123456789", "string", "longer than 8"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=reason):
            service.convert(value, item(kind, 8))


def test_a_file_loads_typed_rows_that_filter_sort_and_page(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    people, r = setup
    steward = people["urbansteward"]
    report = service.load_file(session, steward, r.code, "jg.csv", CSV.encode())
    assert (report.loaded, report.rows, report.problems) == (True, 3, [])
    page = service.query_own(session, steward, r.code, RowQuery(filters={"所属区划": "鼓楼区"}))
    assert page.total == 2
    assert page.rows[0] == {"井盖编号": "JG001", "所属区划": "鼓楼区", "直径": "0.7",
                            "巡查次数": 3, "巡查日期": "2026-11-01", "是否破损": False}  # fmt: skip
    by_count = service.query_own(
        session, steward, r.code, RowQuery(sort="巡查次数", direction="desc", fields=["井盖编号"])
    )
    assert by_count.rows == [{"井盖编号": "JG002"}, {"井盖编号": "JG003"}, {"井盖编号": "JG001"}]
    by_size = service.query_own(session, steward, r.code, RowQuery(sort="直径", limit=1, offset=2))
    assert by_size.rows[0]["井盖编号"] == "JG003"  # 1.25 sorts as a number, after 0.8
    assert (
        service.query_own(session, steward, r.code, RowQuery(filters={"巡查次数": "12"})).total == 1
    )
    assert (
        service.query_own(session, steward, r.code, RowQuery(filters={"是否破损": "是"})).total == 1
    )
    assert service.query_own(session, steward, r.code, RowQuery(q="台江")).total == 1
    assert (
        service.query_own(session, steward, r.code, RowQuery(filters={"是否破损": None})).total == 1
    )
    assert [row["井盖编号"] for row in service.iter_rows(session, r.code, batch=2)] == [
        "JG001", "JG002", "JG003",
    ]  # fmt: skip
    entry = ledger.find_entries(session, LedgerFilter(action="datastore.load"))[0][0]
    assert entry.details["rows"] == 3
    assert len(entry.details["sha256"]) == 64


def test_a_file_with_a_bad_cell_loads_nothing_and_names_every_cell(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    people, r = setup
    steward = people["urbansteward"]
    service.load_file(session, steward, r.code, "jg.csv", CSV.encode())
    bad = CSV + "JG004,鼓楼区,大,3.5,2026-13-01,也许\n"
    report = service.load_file(session, steward, r.code, "jg.csv", bad.encode())
    assert not report.loaded
    assert [(p.row, p.column) for p in report.problems] == [
        (5, "直径"), (5, "巡查次数"), (5, "巡查日期"), (5, "是否破损"),
    ]  # fmt: skip
    assert service.table_of(session, r.code).row_count == 3  # the earlier load stands
    unknown = service.load_file(session, steward, r.code, "x.csv", "编号,颜色\n1,红\n".encode())
    assert {p.column for p in unknown.problems} == {"编号", "颜色"}
    with pytest.raises(InvalidInput, match="rows load from"):
        service.load_file(session, steward, r.code, "x.txt", b"a")


def test_xlsx_and_gb18030_csv_load(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    people, r = setup
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["井盖编号", "巡查次数", "巡查日期"])
    sheet.append(["JG009", 4, __import__("datetime").datetime(2026, 5, 1)])
    buffer = io.BytesIO()
    book.save(buffer)
    report = service.load_file(session, people["urbansteward"], r.code, "a.xlsx", buffer.getvalue())
    assert report.loaded
    row = service.query(session, r.code, RowQuery()).rows[0]
    assert (row["巡查次数"], row["巡查日期"], row["所属区划"]) == (4, "2026-05-01", None)
    gbk = service.load_file(session, people["urbansteward"], r.code, "b.csv", CSV.encode("gb18030"))
    assert gbk.rows == 3


def test_only_the_provider_unit_loads_and_reads_rows_here(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    people, r = setup
    service.load_file(session, people["urbansteward"], r.code, "jg.csv", CSV.encode())
    with pytest.raises(Forbidden):
        service.load_file(session, people["bureausteward"], r.code, "jg.csv", CSV.encode())
    assert service.query_own(session, people["root"], r.code, RowQuery()).total == 3
    service.clear(session, people["urbansteward"], r.code)
    with pytest.raises(NotFound):
        service.query(session, r.code, RowQuery())


def test_json_records_load_and_bad_filters_name_their_field(session: Session, setup) -> None:  # type: ignore[no-untyped-def]
    people, r = setup
    steward = people["urbansteward"]
    service.load_rows(session, steward, r.code, [{"井盖编号": "A1", "巡查次数": 2}], "api")
    with pytest.raises(InvalidInput) as caught:
        service.load_rows(session, steward, r.code, [{"井盖编号": "A1", "巡查次数": "两"}], "api")
    assert caught.value.field == "rows"
    with pytest.raises(InvalidInput) as caught:
        service.query(session, r.code, RowQuery(filters={"颜色": "红"}))
    assert caught.value.field == "filters.颜色"
    with pytest.raises(InvalidInput) as caught:
        service.query(session, r.code, RowQuery(filters={"巡查次数": "两"}))
    assert caught.value.field == "filters.巡查次数"


def _loaded_events(session: Session, code: str) -> list[dict]:  # type: ignore[type-arg]
    from citybase.core.bus import repository as bus_repository
    from citybase.data.datastore.schemas import RowsLoaded

    return [e.payload for e in bus_repository.undispatched(session, 1_000)
            if e.topic == RowsLoaded.topic and e.payload["code"] == code]  # fmt: skip


def test_a_load_and_a_clear_are_announced_and_a_refused_load_is_not(
    session: Session,
    setup,  # type: ignore[no-untyped-def]
) -> None:
    people, r = setup
    steward = people["urbansteward"]
    service.load_file(session, steward, r.code, "jg.csv", CSV.encode())
    bad = CSV + "JG004,鼓楼区,大,3.5,2026-13-01,也许\n"
    service.load_file(session, steward, r.code, "jg.csv", bad.encode())  # loads nothing
    with pytest.raises(Forbidden):
        service.load_file(session, people["reader"], r.code, "jg.csv", CSV.encode())
    service.clear(session, steward, r.code)
    events = _loaded_events(session, r.code)
    assert [(e["unit_code"], e["load_number"], e["rows"]) for e in events] == [
        (r.provider_unit_code, 1, 3), (r.provider_unit_code, 0, 0),
    ]  # fmt: skip
