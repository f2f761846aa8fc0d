"""Form tokens on the forms that load a file or set something in place (imports, uploads,
upserts, runs): each, sent twice with the token its page drew, changes things once — the second
is sent to the first one's result and writes nothing, not even a second ledger entry."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.bus.models import Job
from citybase.core.ledger.models import LedgerEntry
from citybase.core.ledger.schemas import Actor
from citybase.data.datastore import service as datastore
from citybase.demo.seed import TAXONOMY_FILE
from citybase.perception.devices import service as devices
from tests.cockpit.factories import PLAN, load
from tests.core.identity.factories import sign_in
from tests.core.orgs.factories import make_unit
from tests.data.sharing.factories import person_rows, shared_city
from tests.perception.devices.test_telemetry import GAUGE

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def _changes(session: Session) -> int:
    """What the forms change, counted: every change writes the ledger; a retrain asked also
    stores a job."""
    entries = session.scalar(select(func.count()).select_from(LedgerEntry)) or 0
    return entries + (session.scalar(select(func.count()).select_from(Job)) or 0)


def _token(client: TestClient, page: str, action: str) -> str:
    """The token of the form posting to ``action`` on ``page``, as a browser would send it."""
    text = client.get(page).text
    start = text.index(f'action="{action}"')
    found = TOKEN.search(text, start)
    assert found, f"no token after {action}'s form"
    assert found.start() < text.find("</form>", start), f"no token in {action}'s form"
    return found.group(1)


def _twice(
    client: TestClient, session: Session, csrf: str, page: str, action: str,
    data: dict[str, str], files: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    token = _token(client, page, action)
    sent = {"csrf_token": csrf, "form_token": token, **data}
    before = _changes(session)
    first = client.post(action, data=sent, files=files, follow_redirects=False)
    assert first.status_code in (200, 303), f"{action}: {first.status_code}"
    after = _changes(session)
    assert after > before, f"{action}: the first submission changed nothing"
    again = client.post(action, data=sent, files=files, follow_redirects=False)
    assert again.status_code == 303, f"{action}: {again.status_code}"
    assert _changes(session) == after, f"{action}: the second submission changed things again"
    if first.status_code == 303:
        assert again.headers["location"] == first.headers["location"]


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


REGIONS = "code,name,level,kind,parent\n350104,仓山区,district,市辖区,350100\n".encode()
# the form's page, where it posts, what it sends (and its file)
FORMS: dict[str, tuple[str, str, dict[str, str], dict[str, Any] | None]] = {
    "regions import": ("/console/orgs/import", "/console/orgs/import", {},
                       {"file": ("regions.csv", REGIONS, "text/csv")}),
    "rows upload": ("/console/catalog/{code}/rows", "/console/catalog/{code}/rows", {},
                    {"file": ("rows.csv", _csv(person_rows(9)[6:]), "text/csv")}),
    "masking policy": ("/console/masking", "/console/masking", {
        "level": "general_3", "kind": "mobile", "op": "keep", "first": "0", "last": "4",
        "reason": "对齐行业规范"}, None),
    "taxonomy": ("/console/hub/categories", "/console/hub/categories", {},
                 {"file": (TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())}),
    "device rule": ("/console/perception/rules", "/console/perception/rules", {
        "name": "高水位", "kind": "threshold", "type_code": "water_gauge", "attr": "level",
        "params": '{"op": ">", "limit": 2.5}', "level": "critical"}, None),
    "plan file": ("/console/cockpit", "/console/cockpit/plans", {},
                  {"file": ("plan.yaml", PLAN.encode())}),
    "plan as YAML": ("/console/cockpit/plans/fz-test/yaml", "/console/cockpit/plans/fz-test/yaml",
                     {"text": PLAN.replace("测试规划", "测试规划（修订）")}, None),
    "assessment rules": ("/console/cockpit/assessment?year=2025",
                         "/console/cockpit/assessment/rules", {
        "year": "2025", "parts.indicators": "70", "parts.tasks": "30", "parts.updates": "0"},
                         None),
    "model retrain": ("/console/hub/models", "/console/hub/models/retrain", {}, None),
}  # fmt: skip


@pytest.mark.parametrize("form", FORMS)
def test_a_form_sent_twice_changes_things_once(
    client: TestClient, session: Session, form: str
) -> None:
    city = shared_city(session)
    make_unit(session, "fz.comms", "福州市通信管理办公室")
    devices.put_type(session, Actor.system("test"), GAUGE)
    if form == "plan as YAML":
        load(session)
    page, action, data, files = FORMS[form]
    page, action = (p.replace("{code}", city.resource.code) for p in (page, action))
    csrf = sign_in(client, "root")
    _twice(client, session, csrf, page, action, data, files)
    if form == "rows upload":
        table = datastore.table_of(session, city.resource.code)
        assert table is not None
        assert table.row_count == 3  # the file's rows, loaded once


def test_an_import_without_our_token_changes_nothing(client: TestClient, session: Session) -> None:
    shared_city(session)
    csrf = sign_in(client, "root")
    before = _changes(session)
    regions = "code,name,level,kind,parent\n350104,仓山区,district,市辖区,350100\n"
    refused = client.post("/console/orgs/import", data={"csrf_token": csrf, "form_token": "x"},
                          files={"file": ("regions.csv", regions.encode(), "text/csv")})  # fmt: skip
    assert refused.status_code == 422
    assert "表单已过期或并非本站签发" in refused.text
    rule = client.post("/console/perception/rules", data={
        "csrf_token": csrf, "name": "高水位", "kind": "threshold", "type_code": "water_gauge",
        "attr": "level", "params": "{}", "level": "critical"})  # fmt: skip
    assert rule.status_code == 422
    assert _changes(session) == before
