"""The stewards' console pages: a resource declared and a budget granted and revoked on a page
in Chinese; another unit's steward and an analyst change nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.data.grading.schemas import Level
from citybase.data.sandbox import repository
from citybase.data.sandbox.models import SandboxGrant
from tests.core.identity.factories import sign_in
from tests.data.sharing.factories import shared_city

FORM = {"identifier": "公民身份号码", "max_rows_per_person": "2", "privacy_unit": "identifier",
        "categorical": "性别：男、女\n违法事由: 占道经营, 乱扔垃圾", "numeric": "罚款金额：0、1000"}  # fmt: skip


def _grants(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(SandboxGrant)) or 0


def test_a_steward_declares_grants_and_revokes_on_the_console(
    client: TestClient, session: Session, form_token: Any
) -> None:
    city = shared_city(session, level=Level.general_4)
    code = city.resource.code
    # another unit's steward: the page says who declares, and a declaration sent changes nothing
    csrf = client.headers["X-CSRF-Token"] = sign_in(client, "bureausteward")
    page = client.get(f"/console/sandbox/declarations/{code}")
    assert page.status_code == 200
    assert "只有提供单位的数据管理员可以声明该资源" in page.text
    sent = client.post(
        f"/console/sandbox/declarations/{code}",
        data={"csrf_token": csrf, "form_token": form_token(), **FORM},
    )
    assert sent.status_code == 403
    assert "只有提供单位" in sent.text
    assert repository.declaration(session, code) is None
    # the providing steward
    client.cookies.clear()
    csrf = client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    opened = client.get(f"/console/sandbox/govern?code={code}", follow_redirects=False)
    assert opened.headers["location"] == f"/console/sandbox/declarations/{code}"
    page = client.get(opened.headers["location"])
    assert "沙箱声明" in page.text
    assert "罚款金额" in page.text
    bad = client.post(f"/console/sandbox/declarations/{code}",
                      data={"csrf_token": csrf, "form_token": form_token(), **FORM, "numeric": "罚款金额 0 1000"})  # fmt: skip
    assert bad.status_code == 422
    assert "第 1 行格式应为" in bad.text
    assert repository.declaration(session, code) is None
    sent = client.post(f"/console/sandbox/declarations/{code}", data={"csrf_token": csrf, "form_token": form_token(), **FORM},
                       follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303, sent.text
    declared = repository.declaration(session, code)
    assert declared is not None
    assert declared.categorical == {"性别": ["男", "女"], "违法事由": ["占道经营", "乱扔垃圾"]}
    assert declared.numeric == {"罚款金额": {"lower": 0, "upper": 1000}}
    assert (declared.max_rows_per_person, declared.privacy_unit) == (2, "identifier")
    grant = {"csrf_token": csrf, "resource_code": code, "unit_code": "fz.health", "epsilon": "1.5",
             "period": "year", "purpose": "违法行为统计分析", "legal_basis": "《数据安全法》第三十八条"}  # fmt: skip
    own = client.post(
        "/console/sandbox/grants",
        data={**grant, "unit_code": "fz.urban", "form_token": form_token()},
    )
    assert own.status_code == 422  # the providing unit reads its own rows
    assert "可直接使用本单位数据" in own.text
    assert _grants(session) == 0
    grant["form_token"] = form_token()
    made = client.post("/console/sandbox/grants", data=grant, follow_redirects=False)
    assert made.status_code == 303, made.text
    again = client.post("/console/sandbox/grants", data=grant, follow_redirects=False)
    assert again.headers["location"] == made.headers["location"]  # sent twice, granted once
    page = client.get("/console/sandbox/govern")
    assert "沙箱声明与预算" in page.text
    assert "fz.health" in page.text
    (row,) = session.scalars(select(SandboxGrant)).all()
    assert (row.unit_code, row.epsilon_micro, row.period) == ("fz.health", 1_500_000, "year")
    # an analyst can neither grant nor revoke
    client.cookies.clear()
    analyst_csrf = client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    assert client.post("/console/sandbox/grants",
                       data={**grant, "csrf_token": analyst_csrf, "form_token": form_token()}).status_code == 403  # fmt: skip
    assert client.post(f"/console/sandbox/grants/{row.id}/revoke",
                       data={"csrf_token": analyst_csrf, "form_token": form_token(), "reason": "越权"}).status_code == 403  # fmt: skip
    assert _grants(session) == 1
    session.refresh(row)
    assert row.revoked_at is None
    # the steward revokes it
    client.cookies.clear()
    csrf = client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    revoked = client.post(f"/console/sandbox/grants/{row.id}/revoke",
                          data={"csrf_token": csrf, "form_token": form_token(), "reason": "项目结束"}, follow_redirects=False)  # fmt: skip
    assert revoked.status_code == 303
    session.refresh(row)
    assert row.revoke_reason == "项目结束"
    client.cookies.set("citybase_lang", "en")
    assert "Sandbox declarations and budgets" in client.get("/console/sandbox/govern").text
