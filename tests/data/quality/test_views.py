from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.core.identity.factories import sign_in
from tests.data.sharing.factories import shared_city


def test_rules_runs_and_disputes_in_the_console(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    city = shared_city(session)
    code = city.resource.code
    csrf = sign_in(client, "urbansteward")
    bad = client.post(f"/console/quality/resources/{code}/rules",
                      data={"csrf_token": csrf, "form_token": form_token(), "item": "性别", "kind": "value_set", "params": "{"},
                      follow_redirects=False)  # fmt: skip
    assert "error=" in bad.headers["location"]
    added = client.post(f"/console/quality/resources/{code}/rules",
                        data={"csrf_token": csrf, "form_token": form_token(), "item": "性别", "kind": "value_set",
                              "params": '{"values": ["男"]}'}, follow_redirects=False)  # fmt: skip
    assert added.status_code == 303
    ran = client.post(f"/console/quality/resources/{code}/runs", data={"csrf_token": csrf, "form_token": form_token()},
                      follow_redirects=False)  # fmt: skip
    assert ran.status_code == 303
    page = client.get(f"/console/catalog/{code}")
    assert "50.0" in page.text  # three of six rows say 女
    assert code in client.get("/console/quality").text
    client.post("/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.clear()

    csrf = sign_in(client, "healthuser")
    raised = client.post("/console/quality/disputes",
                         data={"csrf_token": csrf, "form_token": form_token(), "resource_code": code, "item": "性别",
                               "row": "姓名=王芳", "description": "性别登记有误"},
                         follow_redirects=False)  # fmt: skip
    assert raised.status_code == 303, raised.text
    number = raised.headers["location"].rsplit("=", 1)[1]
    client.post("/logout", headers={"X-CSRF-Token": csrf})
    client.cookies.clear()

    csrf = sign_in(client, "urbansteward")
    assert number in client.get("/console/quality/disputes").text
    answered = client.post(f"/console/quality/disputes/{number}/answer",
                           data={"csrf_token": csrf, "form_token": form_token(), "corrected": "yes", "response": "已更正"},
                           follow_redirects=False)  # fmt: skip
    assert answered.status_code == 303
    assert "已更正" in client.get("/console/quality/disputes").text


def test_the_masking_policy_page(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    shared_city(session)
    csrf = sign_in(client, "root")
    assert "可逆假名" in client.get("/console/masking").text
    changed = client.post("/console/masking",
                          data={"csrf_token": csrf, "form_token": form_token(), "level": "general_3",
                                "kind": "mobile", "op": "keep", "first": "0", "last": "4", "reason": "对齐行业规范"},
                          follow_redirects=False)  # fmt: skip
    assert changed.status_code == 303
    assert "已由大数据局调整" in client.get("/console/masking").text
    refused = client.post("/console/masking",
                          data={"csrf_token": csrf, "form_token": form_token(), "level": "general_3",
                                "kind": "mobile", "op": "keep", "reason": "x"})  # fmt: skip
    assert refused.status_code == 422
