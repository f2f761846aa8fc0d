from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.data.grading import service as grading
from citybase.data.grading.schemas import ScanRequest
from citybase.data.sources import service as sources
from citybase.data.sources.schemas import SourceCreate
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import open_datasets


def test_a_resource_page_gathers_its_level_review_conflicts_rows_and_opening(
    client: TestClient, session: Session
) -> None:
    people = catalog_people(session)
    made = open_datasets(session, people)
    code = made["open"].code
    grading.scan_resource(session, people["urbansteward"], code,
                          ScanRequest(rows=[{"停车场名称": "东街口停车场"}]))  # fmt: skip
    sources.register_source(
        session, people["root"],
        SourceCreate(data_kind="停车场基础信息", unit_code="fz.bigdata",
                     elements=["停车场名称", "泊位数"], legal_basis="职责"),
    )  # fmt: skip
    sign_in(client, "urbansteward")
    page = client.get(f"/console/catalog/{code}").text
    assert "分类分级" in page
    assert "一般数据 1 级" in page  # the proposed level
    assert "规范性审查" in page
    assert "停车场基础信息" in page  # the conflict with the named source
    assert "行数: 3" in page
    assert f"/open/{code}" in page
    closed = client.get(f"/console/catalog/{made['closed'].code}").text
    assert f'href="/open/{made["closed"].code}"' not in closed
