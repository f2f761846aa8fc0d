"""The sandbox through HTTP: access declared per route, refusals in the API's error format naming
the rule, the console page in Chinese (and English), and no unit reaching across to another's
grants or budget."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.sandbox import service
from citybase.data.sandbox.models import SandboxBudget, SandboxGrant, SandboxQuery
from citybase.data.sandbox.schemas import GrantCreate
from tests.core.identity.factories import sign_in
from tests.data.sandbox.factories import SETTINGS, sandbox_city

SQL = 'SELECT 性别, COUNT(*), AVG(罚款金额) FROM "{code}" GROUP BY 性别'


def test_anonymous_callers_get_nothing(client: TestClient, session: Session) -> None:
    sandbox_city(session)
    for path in ("/api/v1/sandbox/declarations", "/api/v1/sandbox/grants",
                 "/api/v1/sandbox/queries"):  # fmt: skip
        assert client.get(path).status_code == 401, path
    assert client.post("/api/v1/sandbox/queries", json={"sql": "SELECT COUNT(*) FROM t",
                                                        "epsilon": 1}).status_code == 401  # fmt: skip
    page = client.get("/console/sandbox", follow_redirects=False)
    assert page.status_code in (302, 303, 401)
    assert session.scalar(select(func.count()).select_from(SandboxQuery)) == 0


def test_an_analyst_asks_in_sql_and_in_structured_form(
    client: TestClient, session: Session
) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    answered = client.post("/api/v1/sandbox/queries",
                           json={"sql": SQL.format(code=sc.code), "epsilon": 0.25})  # fmt: skip
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["status"] == "answered"
    assert body["answer"]["columns"] == ["性别", "COUNT(*)", "AVG(罚款金额)"]
    assert body["remaining"] == 0.75
    assert {a["statistic"] for a in body["answer"]["accuracy"]} >= {"Frame Length", "Sum"}
    structured = {"resource_code": sc.code, "select": [{"agg": "sum", "column": "罚款金额"}],
                  "where": [{"column": "性别", "op": "=", "value": "男"}]}  # fmt: skip
    second = client.post("/api/v1/sandbox/queries", json={"query": structured, "epsilon": 0.25})
    assert second.status_code == 200, second.text
    assert second.json()["answer"]["columns"] == ["SUM(罚款金额)"]
    (grant,) = client.get("/api/v1/sandbox/grants").json()
    assert (grant["spent"], grant["remaining"]) == (0.5, 0.5)
    assert len(client.get("/api/v1/sandbox/queries").json()) == 2
    declared = client.get(f"/api/v1/sandbox/declarations/{sc.code}").json()
    assert declared["categorical"] == {"性别": ["男", "女"]}


def test_refusals_name_the_rule_and_are_kept(client: TestClient, session: Session) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    cases = [
        ({"sql": SQL.format(code=sc.code), "epsilon": 2}, 403, "budget.exceeded", "epsilon"),
        ({"sql": f'SELECT 姓名 FROM "{sc.code}"', "epsilon": 0.1}, 422, "query.non_aggregate",
         "姓名"),
        ({"sql": f'SELECT COUNT(*) FROM "{sc.code}" GROUP BY 住址', "epsilon": 0.1}, 422,
         "query.undeclared_column", "group_by[0]"),
    ]  # fmt: skip
    for payload, status, rule, field in cases:
        refused = client.post("/api/v1/sandbox/queries", json=payload)
        assert refused.status_code == status, refused.text
        error = refused.json()["error"]
        assert (error["details"]["rule"], error["field"]) == (rule, field)
        assert isinstance(error["details"]["query"], int)
    bad = client.post("/api/v1/sandbox/queries", json={"sql": "SELECT 1", "epsilon": -1})
    assert bad.status_code == 422
    assert "error" in bad.json()
    both = client.post("/api/v1/sandbox/queries", json={"epsilon": 1})
    assert both.status_code == 422
    kept = session.scalars(select(SandboxQuery.rule).order_by(SandboxQuery.id)).all()
    assert kept == ["budget.exceeded", "query.non_aggregate", "query.undeclared_column"]
    assert session.scalar(select(func.count()).select_from(SandboxBudget)) == 0


def test_no_unit_reaches_anothers_grants_or_budget(client: TestClient, session: Session) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    assert sc.grant is not None
    client.headers["X-CSRF-Token"] = sign_in(client, "glreader")  # another unit's analyst
    refused = client.post("/api/v1/sandbox/queries",
                          json={"sql": SQL.format(code=sc.code), "epsilon": 0.1})  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["rule"] == "grant.none"
    assert client.get("/api/v1/sandbox/grants").json() == []
    # the analyst neither grants nor declares
    grant = {"resource_code": sc.code, "unit_code": "gl.urban", "epsilon": 10,
             "purpose": "自行授权", "legal_basis": "无依据"}  # fmt: skip
    assert client.post("/api/v1/sandbox/grants", json=grant).status_code == 403
    client.post("/logout")
    client.headers["X-CSRF-Token"] = sign_in(client, "bureausteward")  # another unit's steward
    assert client.post("/api/v1/sandbox/grants", json=grant).status_code == 403
    revoke = client.post(f"/api/v1/sandbox/grants/{sc.grant.id}/revoke",
                         json={"reason": "越权撤销"})  # fmt: skip
    assert revoke.status_code == 404
    redeclare = client.put(f"/api/v1/sandbox/declarations/{sc.code}", json={
        "identifier": "公民身份号码", "max_rows_per_person": 1000})  # fmt: skip
    assert redeclare.status_code == 403
    assert session.scalar(select(func.count()).select_from(SandboxGrant)) == 1
    assert session.get(SandboxGrant, sc.grant.id).revoked_at is None  # type: ignore[union-attr]
    # the providing unit's steward revokes; the analyst is refused after
    client.post("/logout")
    client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    revoked = client.post(f"/api/v1/sandbox/grants/{sc.grant.id}/revoke",
                          json={"reason": "项目结束"})  # fmt: skip
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    client.post("/logout")
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    after = client.post("/api/v1/sandbox/queries",
                        json={"sql": SQL.format(code=sc.code), "epsilon": 0.1})  # fmt: skip
    assert after.json()["error"]["details"]["rule"] == "grant.revoked"


def _form_token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_the_console_page_asks_and_shows_cost_and_accuracy(
    client: TestClient, session: Session
) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    csrf = sign_in(client, "healthuser")
    page = client.get("/console/sandbox")
    assert page.status_code == 200
    assert "隐私计算沙箱" in page.text
    assert "本期剩余" in page.text
    assert sc.code in page.text
    sent = client.post("/console/sandbox", data={
        "csrf_token": csrf, "form_token": _form_token(page.text),
        "sql": SQL.format(code=sc.code), "epsilon": "0.5"}, follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    shown = client.get(sent.headers["location"])
    assert "查询结果" in shown.text
    assert "准确度" in shown.text
    assert "Integer Laplace" in shown.text
    # the same form sent again asks nothing more: a query spends budget
    again = client.post("/console/sandbox", data={
        "csrf_token": csrf, "form_token": _form_token(page.text),
        "sql": SQL.format(code=sc.code), "epsilon": "0.5"}, follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert session.scalar(select(func.count()).select_from(SandboxQuery)) == 1
    client.cookies.set("citybase_lang", "en")
    english = client.get("/console/sandbox")
    assert "Privacy sandbox" in english.text
    assert "Left this period" in english.text


def test_the_providing_steward_and_an_admin_see_the_grants_an_analyst_of_no_grant_sees_none(
    client: TestClient, session: Session
) -> None:
    sc = sandbox_city(session, epsilon=1.0)
    sign_in(client, "urbansteward")
    (grant,) = client.get("/api/v1/sandbox/grants").json()
    assert grant["unit_code"] == "fz.health"
    client.post("/logout")
    sign_in(client, "root")
    page = client.get("/console/sandbox")
    assert page.status_code == 200
    assert "fz.health" in page.text
    client.post("/logout")
    sign_in(client, "glreader")
    page = client.get("/console/sandbox")
    assert "本单位暂无沙箱授权" in page.text
    assert sc.code in page.text  # the declaration is public; the grant is not


def test_the_console_asks_with_delta_where_a_grant_has_it_and_shows_it_spent(
    client: TestClient, session: Session
) -> None:
    sc = sandbox_city(session, grant=False)
    service.grant_budget(session, sc.steward, SETTINGS, GrantCreate(
        resource_code=sc.code, unit_code="fz.health", epsilon=2.0, delta=1e-6,
        purpose="违法行为的统计分析", legal_basis="《数据安全法》第三十八条"))  # fmt: skip
    csrf = sign_in(client, "healthuser")
    page = client.get("/console/sandbox")
    assert "本次消耗 δ" in page.text
    assert "高斯噪声" in page.text
    too_much = client.post("/console/sandbox", data={
        "csrf_token": csrf, "form_token": _form_token(page.text), "sql": SQL.format(code=sc.code),
        "epsilon": "0.5", "delta": "0.5"}, follow_redirects=False)  # fmt: skip
    assert too_much.status_code == 303
    assert "error=" in too_much.headers["location"]
    assert session.scalar(select(func.count()).select_from(SandboxQuery)) == 0
    page = client.get("/console/sandbox")
    sent = client.post("/console/sandbox", data={
        "csrf_token": csrf, "form_token": _form_token(page.text), "sql": SQL.format(code=sc.code),
        "epsilon": "0.5", "delta": "4e-7"}, follow_redirects=False)  # fmt: skip
    shown = client.get(sent.headers["location"])
    query = session.scalars(select(SandboxQuery)).one()
    assert (query.status, query.delta_pico) == ("answered", 400_000)
    assert "δ = 4e-07" in shown.text  # the answer's cost
    assert "δ 4e-07" in shown.text  # spent, beside ε, on the budget display
    assert "Gaussian" in shown.text


def test_the_console_asks_no_delta_without_a_grant_of_delta(
    client: TestClient, session: Session
) -> None:
    sandbox_city(session, epsilon=1.0)
    sign_in(client, "healthuser")
    page = client.get("/console/sandbox")
    assert 'name="epsilon"' in page.text
    assert 'name="delta"' not in page.text
