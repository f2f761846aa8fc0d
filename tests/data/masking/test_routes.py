from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.data.grading.schemas import Level
from tests.core.identity.factories import sign_in
from tests.data.sharing.factories import citizen_id, shared_city


def test_policy_plan_preview_redact_and_reveal(client: TestClient, session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    code = city.resource.code
    csrf = sign_in(client, "urbansteward")
    policy = client.get("/api/v1/masking/policy").json()
    cell = next(r for r in policy if (r["level"], r["kind"]) == ("general_4", "citizen_id"))
    assert (cell["rule"]["op"], cell["default"]) == ("pseudonym", True)
    plan = client.get(f"/api/v1/masking/plans/{code}").json()
    assert {f["item"]: f["rule"]["op"] for f in plan["fields"]}["公民身份号码"] == "pseudonym"
    preview = client.get(f"/api/v1/masking/plans/{code}/preview", params={"limit": 2}).json()
    assert len(preview["rows"]) == 2
    token = preview["rows"][0]["公民身份号码"]
    redacted = client.post("/api/v1/masking/redact", json={"text": f"身份证{citizen_id(5)}"},
                           headers={"X-CSRF-Token": csrf}).json()  # fmt: skip
    assert redacted["found"] == {"citizen_id": 1}
    assert redacted["text"] == f"身份证{citizen_id(5)[:6]}{'*' * 8}{citizen_id(5)[-4:]}"
    # a steward may not change the policy nor reveal a pseudonym
    denied = client.put("/api/v1/masking/policy/general_4/mobile", headers={"X-CSRF-Token": csrf},
                        json={"rule": {"op": "suppress"}, "reason": "x"})  # fmt: skip
    assert denied.status_code == 403
    body = {"pseudonym": token, "reason": "核实", "case_number": "SR202611010003"}
    assert client.post("/api/v1/masking/reveal", json=body,
                       headers={"X-CSRF-Token": csrf}).status_code == 403  # fmt: skip
    client.cookies.clear()
    csrf = sign_in(client, "root")
    revealed = client.post("/api/v1/masking/reveal", json=body, headers={"X-CSRF-Token": csrf})
    assert revealed.json() == {"value": citizen_id(0)}
