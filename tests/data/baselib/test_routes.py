"""A file read through the API: the sharing rules at each boundary (nobody, a unit without a
grant, a unit with a grant for some fields, the steward), each read or refusal traced."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.baselib import service
from citybase.data.baselib.schemas import Kind
from citybase.data.masking import operators as ops
from citybase.data.sharing import access
from citybase.data.sharing.models import ShareAccess
from citybase.data.sharing.schemas import AccessFilter
from tests.core.identity.factories import make_user, principal_of, sign_in
from tests.data.baselib.factories import LinkedCity, linked_city
from tests.data.sharing.factories import citizen_id, grant_to

READ = {"X-Citybase-Purpose": quote("核查医保参保人身份"), "X-Citybase-Issue": "SR202612010001"}


def _linked(session: Session, settings: Settings) -> tuple[LinkedCity, int]:
    city = linked_city(session, settings)
    service.link_base_library(session, city.steward, Kind.person, settings.baselib,
                              ops.keys_for(settings.masking_key))  # fmt: skip
    found = service.find_file(
        session, city.steward, Kind.person, citizen_id(2), access.ReadContext(purpose="测试"),
        ops.keys_for(settings.masking_key), settings.baselib,
    )  # fmt: skip
    assert not isinstance(found, access.Refused)
    return city, found.id


def _traces(session: Session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
        session.scalar(select(func.count()).select_from(ShareAccess)) or 0,
    )


def test_nobody_signed_in_reads_nothing_and_leaves_nothing(
    client: TestClient, session: Session, settings: Settings
) -> None:
    _, file_id = _linked(session, settings)
    before = _traces(session)
    for path in (f"/api/v1/baselib/persons/{file_id}",
                 f"/api/v1/baselib/persons/lookup?number={citizen_id(2)}"):  # fmt: skip
        response = client.get(path, headers=READ)
        assert response.status_code == 401
        assert citizen_id(2) not in response.text
    assert client.post("/api/v1/baselib/persons/runs").status_code == 401
    assert _traces(session) == before


def test_a_unit_without_a_grant_sees_nothing_and_the_refusal_is_traced(
    client: TestClient, session: Session, settings: Settings
) -> None:
    _, file_id = _linked(session, settings)
    sign_in(client, "glreader")
    before = _traces(session)
    response = client.get(f"/api/v1/baselib/persons/{file_id}", headers=READ)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "no_grant"
    assert "13900000002" not in response.text
    assert "李娜" not in response.text
    ledger_after, accesses_after = _traces(session)
    assert (ledger_after - before[0], accesses_after - before[1]) == (1, 1)
    refused = session.scalars(select(ShareAccess).order_by(ShareAccess.id.desc())).first()
    assert refused is not None
    assert refused.outcome == "refused"


def test_a_grant_for_some_fields_serves_those_fields_masked_with_their_sources(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, file_id = _linked(session, settings)
    grant_to(session, city.shared, ["姓名", "公民身份号码"])
    sign_in(client, "healthuser")  # fz.health's consumer: fz.health's own rows are its own
    response = client.get(f"/api/v1/baselib/persons/{file_id}", headers=READ)
    assert response.status_code == 200, response.text
    body = response.json()
    fields = {f["field"]: f for f in body["fields"]}
    # fz.health's own value of the phone, in the clear; the name as granted
    assert fields["mobile"]["value"] == "13900000002"
    assert fields["mobile"]["unit_code"] == "fz.health"
    assert fields["mobile"]["authoritative"]
    for f in body["fields"]:
        assert f["resource_code"] in (city.shared.resource.code, city.health.code)
    assert body["links"] == []  # the source rows are for the steward
    assert "《社会保险法》第八十七条" in body["legal_basis"] or body["legal_basis"] == [
        "本单位数据（提供单位读取）"
    ]
    # the read is in the access log under the data subject's keyed hash: an auditor finds it
    make_user(session, "auditor", Role.auditor)
    found = access.find_accesses(
        session, principal_of(session, "auditor"), AccessFilter(subject=citizen_id(2)),
        ops.keys_for(settings.masking_key),
    ).accesses  # fmt: skip
    # (the steward's look-up that set this test up is the other read about this person)
    assert len(found) == 2
    read = next(a for a in found if a.id == int(response.headers["X-Citybase-Access"]))
    assert read.purpose == "核查医保参保人身份"
    assert read.consumer_unit_code == "fz.health"


def test_a_unit_granted_elsewhere_gets_only_the_granted_items_and_a_masked_id(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, file_id = _linked(session, settings)
    grant_to(session, city.shared, ["姓名", "公民身份号码"], who=city.shared.stranger)
    sign_in(client, "glreader")
    response = client.get(f"/api/v1/baselib/persons/{file_id}", headers=READ)
    assert response.status_code == 200, response.text
    body = response.json()
    served = {f["field"]: f for f in body["fields"]}
    assert set(served) <= {"name", "citizen_id"}
    assert "mobile" in body["withheld"]
    assert "address" in body["withheld"]
    assert "13900000002" not in response.text
    assert "13800130002" not in response.text
    if "citizen_id" in served:
        assert served["citizen_id"]["value"] != citizen_id(2)  # masked by the grade's rule
        assert served["citizen_id"]["masked"]


def test_a_read_names_its_purpose_and_its_case(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, file_id = _linked(session, settings)
    grant_to(session, city.shared, ["姓名", "公民身份号码"], who=city.shared.stranger)
    sign_in(client, "glreader")
    no_purpose = client.get(f"/api/v1/baselib/persons/{file_id}",
                            headers={"X-Citybase-Issue": "SR202612010001"})  # fmt: skip
    assert no_purpose.status_code == 422
    assert no_purpose.json()["error"]["field"] == "X-Citybase-Purpose"
    no_case = client.get(f"/api/v1/baselib/persons/{file_id}",
                         headers={"X-Citybase-Purpose": quote("核查")})  # fmt: skip
    assert no_case.status_code == 422
    assert no_case.json()["error"]["code"] == "case_number_required"
    assert "fields" not in no_case.json()


def test_look_up_by_number_old_or_new_and_bad_numbers_are_told(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city, file_id = _linked(session, settings)
    sign_in(client, "healthuser")
    old = citizen_id(0)[:6] + citizen_id(0)[8:17]
    found = client.get(f"/api/v1/baselib/persons/lookup?number={old}", headers=READ)
    assert found.status_code == 200, found.text
    assert found.json()["id"] != file_id
    assert client.get(f"/api/v1/baselib/persons/lookup?number={citizen_id(2)}",
                      headers=READ).json()["id"] == file_id  # fmt: skip
    bad = client.get("/api/v1/baselib/persons/lookup?number=350102198001011234", headers=READ)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "number"
    # a number the city does not know is answered as one with nothing to read
    unknown = client.get(f"/api/v1/baselib/persons/lookup?number={citizen_id(99)}",
                         headers=READ)  # fmt: skip
    assert unknown.status_code == 403
    assert client.get("/api/v1/baselib/robots/1", headers=READ).status_code == 404
    del city


def test_only_the_steward_unit_runs_and_reviews(
    client: TestClient, session: Session, settings: Settings
) -> None:
    _linked(session, settings)
    for user in ("healthuser", "urbansteward", "healthsteward"):
        client.cookies.clear()
        token = sign_in(client, user)
        h = {"X-CSRF-Token": token}
        assert client.post("/api/v1/baselib/persons/runs", headers=h).status_code == 403
        assert client.get("/api/v1/baselib/persons/reviews").status_code == 403
    client.cookies.clear()
    token = sign_in(client, "bureausteward")
    run = client.post("/api/v1/baselib/persons/runs", headers={"X-CSRF-Token": token})
    assert run.status_code == 201, run.text
    latest = client.get("/api/v1/baselib/persons/runs/latest").json()
    assert latest["id"] == run.json()["id"]
    assert {c["name"] for c in latest["model"]["comparisons"]} >= {"citizen_id", "name"}
    bad = client.post("/api/v1/baselib/reviews/1", json={"decision": "maybe", "reason": "x"},
                      headers={"X-CSRF-Token": token})  # fmt: skip
    assert bad.status_code == 422


def test_the_console_page_reads_a_file_through_the_traced_read(
    client: TestClient, session: Session, settings: Settings
) -> None:
    _, file_id = _linked(session, settings)
    sign_in(client, "bureausteward")
    page = client.get("/console/baselib")
    assert page.status_code == 200
    assert "基础库" in page.text
    assert "复核队列" in page.text
    before = _traces(session)
    shown = client.get(f"/console/baselib?library=persons&number={citizen_id(2)}"
                       "&purpose=核查&issue=SR202612010001")  # fmt: skip
    assert shown.status_code == 200, shown.text
    assert f"#{file_id}" in shown.text
    assert _traces(session)[1] == before[1] + 1
    sign_in(client, "glreader")
    refused = client.get(f"/console/baselib?library=persons&number={citizen_id(2)}"
                         "&purpose=核查&issue=SR202612010001")  # fmt: skip
    assert refused.status_code == 403
    assert "未能查看档案" in refused.text
    assert "13900000002" not in refused.text
