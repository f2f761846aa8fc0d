from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, make_resource
from tests.data.grading.test_service import bank_card


def test_scan_a_sample_csv_then_decide(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    r = make_resource(
        session, people["root"], base_tags=[],
        items=[{"name": "户主", "data_type": "string"}, {"name": "备注", "data_type": "string"}],
    )  # fmt: skip
    csrf = sign_in(client, "urbansteward")
    sample = f"户主,备注\n王小明,卡号{bank_card()}\n".encode()
    response = client.post(
        f"/console/grading/{r.code}/scan",
        data={
            "csrf_token": csrf,
            "form_token": form_token(),
            "domain": "urban",
            "business": "井盖巡查",
        },
        files={"sample": ("sample.csv", sample, "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = client.get(f"/console/grading/{r.code}")
    assert "一般数据 4 级" in page.text
    assert bank_card() not in page.text  # only masked examples are shown
    assert r.code in client.get("/console/grading").text
    refused = client.post(
        f"/console/grading/{r.code}/decision",
        data={"csrf_token": csrf, "form_token": form_token(), "level": "general_1"},
    )
    assert refused.status_code == 422
