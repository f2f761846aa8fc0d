from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.sharing import access, repository
from citybase.data.sharing.schemas import ReadContext
from tests.core.identity.factories import make_user, sign_in
from tests.data.sharing.factories import citizen_id, shared_city


def test_request_decide_and_revoke_in_the_console(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city = shared_city(session, share_type="conditional", level=Level.general_4)
    code = city.resource.code
    csrf = sign_in(client, "healthuser")
    form = client.get(f"/console/sharing/new?resource={code}")
    assert form.status_code == 200
    assert "违法事由" in form.text
    bad = client.post("/console/sharing/new", data={"csrf_token": csrf, "form_token": form_token(), "resource_code": code,
                                                    "purpose": "x", "legal_basis": "法"})  # fmt: skip
    assert bad.status_code == 422
    sent = client.post(
        "/console/sharing/new",
        data={"csrf_token": csrf, "form_token": form_token(), "resource_code": code, "purpose": "医保基金稽核",
              "legal_basis": "《社会保险法》", "fields[]": ["姓名", "性别"], "days": "30"},
        follow_redirects=False,
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    number = sent.headers["location"].rsplit("=", 1)[1]
    client.post("/logout", headers={"X-CSRF-Token": csrf})

    csrf = sign_in(client, "urbansteward")
    page = client.get("/console/sharing")
    assert number in page.text
    decision = {"csrf_token": csrf, "form_token": form_token(), "decision": "approve", "days": "10"}
    decided = client.post(f"/console/sharing/requests/{number}", data=decision,
                          follow_redirects=False)  # fmt: skip
    assert decided.status_code == 303
    # the decision sent twice (a double click) is made once and lands where the first did
    grants = len(repository.grants(session, unit_code=None))
    again = client.post(f"/console/sharing/requests/{number}", data=decision,
                        follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert again.headers["location"] == decided.headers["location"]
    session.expire_all()
    assert len(repository.grants(session, unit_code=None)) == grants
    page = client.get("/console/sharing")
    grant_id = re.search(r"/console/sharing/grants/(\d+)/revoke", page.text)
    assert grant_id, page.text
    resource_page = client.get(f"/console/catalog/{code}")
    assert "pseudonym" in resource_page.text  # the panel shows how it is masked
    revoked = client.post(f"/console/sharing/grants/{grant_id.group(1)}/revoke",
                          data={"csrf_token": csrf, "form_token": form_token(), "reason": "任务完成"},
                          follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303
    assert "已撤销" in client.get("/console/sharing").text


def test_demand_list_in_the_console(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    city = shared_city(session)
    csrf = sign_in(client, "healthuser")
    posted = client.post(
        "/console/sharing/demands",
        data={"csrf_token": csrf, "form_token": form_token(), "title": "违法当事人名单", "description": "医保稽核比对所需",
              "purpose": "医保基金稽核", "legal_basis": "条例", "items": "姓名\n性别"},
        follow_redirects=False,
    )  # fmt: skip
    assert posted.status_code == 303
    number = posted.headers["location"].rsplit("=", 1)[1]
    client.post("/logout", headers={"X-CSRF-Token": csrf})
    csrf = sign_in(client, "urbansteward")
    answered = client.post(f"/console/sharing/demands/{number}/answers",
                           data={"csrf_token": csrf, "form_token": form_token(), "kind": "offer", "resource_code": city.resource.code,
                                 "message": "可申请"}, follow_redirects=False)  # fmt: skip
    assert answered.status_code == 303, answered.text
    assert "提供资源" in client.get("/console/sharing/demands").text


def test_the_access_log_for_provider_and_auditor(client: TestClient, session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    keys = ops.Keys.derive("33" * 32)
    access.read_rows(session, city.stranger, city.resource.code,
                     ReadContext(case_number="SR202611010001"), RowQuery(), keys)  # fmt: skip
    sign_in(client, "urbansteward")
    page = client.get("/console/sharing/access")
    assert page.status_code == 200
    assert "gl.urban" in page.text
    assert "没有 " + city.resource.code + " 的共享授权，请先申请" in page.text  # in Chinese
    assert 'name="subject"' not in page.text  # only auditors look subjects up
    make_user(session, "audit", Role.auditor, unit="fz.bigdata")
    client.cookies.clear()
    sign_in(client, "audit")
    page = client.get("/console/sharing/access", params={"subject": citizen_id(1)})
    assert page.status_code == 200
    assert 'name="subject"' in page.text


def test_a_consumer_reads_the_granted_rows_in_the_console(
    client: TestClient, session: Session
) -> None:
    """Under its unit's grant a consumer sees the granted fields only, masked, paged, searched
    and exported, each read on the access log; a unit with no grant reads nothing and leaves no
    refused read behind; the export is refused to it as not found."""
    from citybase.data.sharing.models import ShareAccess
    from tests.data.sharing.factories import grant_to

    city = shared_city(session, level=Level.general_3)
    number = grant_to(session, city, ["姓名", "公民身份号码", "违法事由"])
    session.commit()
    code = city.resource.code

    def reads() -> int:
        session.expire_all()
        return session.query(ShareAccess).count()

    before = reads()
    sign_in(client, "healthuser")
    listed = client.get("/console/sharing").text
    assert f'href="/console/catalog/{code}/rows"' in listed  # the grant leads to its rows
    assert "城市管理违法当事人信息" in listed  # by name, not code
    # graded data is read for a case: without its number the read is refused, and says so
    bare = client.get(f"/console/catalog/{code}/rows", params={"why": "核查医保参保人"})
    assert bare.status_code == 200
    assert "依据本单位的共享授权" not in bare.text
    assert 'name="case"' in bare.text
    assert "请填写本次查看所办理的案件编号" in bare.text
    assert reads() == before + 1  # the refusal is on the log too
    case = {"why": "核查医保参保人", "case": number}
    page = client.get(f"/console/catalog/{code}/rows", params=case)
    assert page.status_code == 200
    assert "依据本单位的共享授权" in page.text
    assert "违法事由" in page.text
    assert "手机号码" not in page.text  # not granted
    assert citizen_id(0) not in page.text  # masked at its grade
    assert "已脱敏" in page.text
    assert reads() == before + 2
    found = client.get(f"/console/catalog/{code}/rows", params=case | {"q": "违法"})
    assert found.status_code == 200
    assert 'data-follow-export="export-progress"' in page.text
    token = "feedfacefeedfacefeedfacefeedface"
    exported = client.get(f"/console/catalog/{code}/rows.csv", params=case | {"follow": token})
    followed = client.get("/console/progress/form", headers={"X-Form-Token": token}).json()
    assert followed["status"] == "done"
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "违法事由" in exported.text
    assert "手机号码" not in exported.text
    assert citizen_id(0) not in exported.text
    assert "k=" in exported.headers["x-citybase-k-anonymity"]
    assert reads() == before + 4

    client.cookies.clear()
    sign_in(client, "glreader")  # another unit, no grant
    other = client.get(f"/console/catalog/{code}/rows")
    assert other.status_code == 200
    assert "违法事由</th>" not in other.text
    assert "申请共享" in other.text
    assert client.get(f"/console/catalog/{code}/rows.csv").status_code == 404
    assert reads() == before + 4  # nothing read, nothing refused on its behalf

    # an auditor searches the ledger for whose data went where: by the person's ID
    make_user(session, "audit2", Role.auditor, unit="fz.bigdata")
    session.commit()
    client.cookies.clear()
    sign_in(client, "audit2")
    entry = re.compile(r'href="/console/ledger/(\d+)"')
    found = client.get("/console/ledger", params={"subject": citizen_id(0)})
    assert found.status_code == 200
    assert 'name="subject"' in found.text
    assert len(entry.findall(found.text)) >= 2  # the page read and the export
    nobody = client.get("/console/ledger", params={"subject": citizen_id(99)})
    assert entry.findall(nobody.text) == []
    client.cookies.clear()
    sign_in(client, "healthuser")  # a unit's reader: no such search
    assert 'name="subject"' not in client.get("/console/ledger").text
