from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.opendata import service
from citybase.data.opendata.schemas import ApplicationCreate, ApplicationDecision
from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import open_datasets

APPLICATION = ApplicationCreate(
    applicant="林晓", organisation="福州出行科技有限公司", email="lin@example.com", purpose="开发停车导航小程序，实时展示空余泊位。",
    days=60,
)  # fmt: skip


def test_only_published_open_resources_are_datasets(session: Session) -> None:
    people = catalog_people(session)
    made = open_datasets(session, people)
    codes = [d.code for d in service.datasets(session, "http://x")]
    assert codes == sorted([made["open"].code, made["conditional"].code])
    ds = service.dataset(session, made["open"].code, "http://x")
    assert ds.row_count == 3
    assert [(d.format, d.downloadable) for d in ds.distributions] == [
        ("CSV", True), ("JSON", True), ("XLSX", True),
    ]  # fmt: skip
    assert ds.distributions[0].url == f"http://x/open/{ds.code}/download.csv"
    conditional = service.dataset(session, made["conditional"].code, "http://x")
    assert not any(d.downloadable for d in conditional.distributions)
    with pytest.raises(NotFound):
        service.dataset(session, made["closed"].code)


def test_open_rows_download_as_csv_json_and_xlsx(session: Session) -> None:
    people = catalog_people(session)
    code = open_datasets(session, people)["open"].code
    name, media_type, content = service.export(session, code, "csv")
    assert (name, media_type) == (f"{code}.csv", "text/csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["停车场名称", "所属区划", "泊位数", "收费标准"]
    assert rows[2] == ["万象城停车场", "台江区", "1200", "6.5"]
    document = json.loads(service.export(session, code, "json")[2])
    assert document["records"][0]["泊位数"] == 320
    assert [f["type"] for f in document["fields"]] == ["string", "string", "integer", "decimal"]
    book = openpyxl.load_workbook(io.BytesIO(service.export(session, code, "xlsx")[2]))
    assert [c.value for c in book.active[4]] == ["三坊七巷停车场", "鼓楼区", 450, "8"]
    with pytest.raises(NotFound):
        service.export(session, code, "pdf")


def test_a_conditional_dataset_downloads_only_for_an_approved_application(
    session: Session,
) -> None:
    people = catalog_people(session)
    code = open_datasets(session, people)["conditional"].code
    with pytest.raises(Forbidden):
        service.export(session, code, "csv")
    receipt = service.apply(session, code, APPLICATION)
    assert receipt.number.startswith("OA")
    assert len(receipt.token) >= 32
    with pytest.raises(Forbidden, match="pending"):
        service.export(session, code, "csv", application=receipt.number, token=receipt.token)
    inbox = service.inbox(session, people["urbansteward"])
    assert [a.number for a in inbox] == [receipt.number]
    assert service.inbox(session, people["bureausteward"]) == []  # not its unit's data
    with pytest.raises(InvalidInput) as caught:
        service.decide(session, people["urbansteward"], receipt.number,
                       ApplicationDecision(approve=True, days=90))  # fmt: skip
    assert caught.value.field == "days"
    decided = service.decide(session, people["urbansteward"], receipt.number,
                             ApplicationDecision(approve=True, days=30, reason="场景合理"))  # fmt: skip
    assert (decided.status.value, decided.days) == ("approved", 30)
    with pytest.raises(Conflict):
        service.decide(session, people["urbansteward"], receipt.number,
                       ApplicationDecision(approve=False, reason="再议"))  # fmt: skip
    with pytest.raises(Forbidden):
        service.export(session, code, "csv", application=receipt.number, token="wrong")
    content = service.export(session, code, "csv", application=receipt.number, token=receipt.token)
    assert "东街口停车场" in content[2].decode("utf-8-sig")
    assert service.follow(session, receipt.number, receipt.token).downloads == 1
    entries, _ = ledger.find_entries(session, LedgerFilter(action="open.download"))
    assert entries[0].case_number == receipt.number
    assert entries[0].actor == "applicant:林晓"


def test_refusal_needs_a_reason_and_applications_are_for_conditional_data(
    session: Session,
) -> None:
    people = catalog_people(session)
    made = open_datasets(session, people)
    with pytest.raises(Conflict):
        service.apply(session, made["open"].code, APPLICATION)
    with pytest.raises(NotFound):
        service.apply(session, made["closed"].code, APPLICATION)
    receipt = service.apply(session, made["conditional"].code, APPLICATION)
    with pytest.raises(InvalidInput):
        service.decide(session, people["urbansteward"], receipt.number,
                       ApplicationDecision(approve=False))  # fmt: skip
    refused = service.decide(session, people["urbansteward"], receipt.number,
                             ApplicationDecision(approve=False, reason="用途不明确"))  # fmt: skip
    assert refused.status.value == "refused"
    with pytest.raises(NotFound):
        service.follow(session, receipt.number, "not-the-token")
    second = service.apply(session, made["conditional"].code, APPLICATION)
    assert service.withdraw(session, second.number, second.token).status.value == "withdrawn"


def test_an_application_checks_its_fields() -> None:
    with pytest.raises(ValueError, match="e-mail"):
        ApplicationCreate(applicant="a", email="no", purpose="x" * 10)
    with pytest.raises(ValueError, match="check character"):
        ApplicationCreate(applicant="a", email="a@b.cn", purpose="x" * 10,
                          credit_code="91350100MA2XXXXX00")  # fmt: skip
