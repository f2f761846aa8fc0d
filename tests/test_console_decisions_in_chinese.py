"""Errors found deep in a service (a decision already made, a taxonomy row whose parent is wrong)
reach a Chinese page in Chinese, naming the field as the form does; and a decision sent twice
with its one form token is made once, the second sending landing where the first did."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.ledger.models import LedgerEntry
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people
from tests.data.opendata.factories import open_datasets
from tests.data.sharing.factories import shared_city
from tests.test_console_forms_in_chinese import _english, _notices
from tests.test_console_imports_in_chinese import _said

APPLY = {"applicant": "林晓", "email": "lin@example.com", "days": "30",
         "purpose": "开发停车导航小程序，实时展示空余泊位。"}  # fmt: skip


def _ledger(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def _apply(client: TestClient, code: str, form_token) -> str:  # type: ignore[no-untyped-def]
    receipt = client.post(f"/open/{code}/apply", data=APPLY | {"form_token": form_token()})
    assert receipt.status_code == 201
    return receipt.text.split('class="mono">', 2)[1].split("<", 1)[0]


def test_a_decision_sent_twice_is_made_once(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    made = open_datasets(session, catalog_people(session))
    number = _apply(client, made["conditional"].code, form_token)
    csrf = sign_in(client, "urbansteward")
    decision = {"csrf_token": csrf, "decision": "approve", "days": "10", "form_token": form_token()}
    first = client.post(f"/console/open/applications/{number}", data=decision,
                        headers={"Accept": "text/html"})  # fmt: skip
    assert first.status_code == 200
    after_first = _ledger(session)
    again = client.post(f"/console/open/applications/{number}", data=decision,
                        headers={"Accept": "text/html"}, follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert again.headers["location"] == "/console/open/applications"
    assert _ledger(session) == after_first  # nothing decided, nothing recorded the second time


def test_deciding_a_decided_application_says_so_in_chinese(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    made = open_datasets(session, catalog_people(session))
    number = _apply(client, made["conditional"].code, form_token)
    csrf = sign_in(client, "urbansteward")
    for decision in ("approve", "refuse"):  # two forms, each with its own token
        answer = client.post(
            f"/console/open/applications/{number}",
            data={"csrf_token": csrf, "decision": decision, "days": "10", "reason": "不符合条件",
                  "form_token": form_token()},
            headers={"Accept": "text/html"},
        )  # fmt: skip
    assert answer.status_code == 409
    said = " ".join(_notices(answer.text))
    assert number in said, said
    assert "已批准" in said, said
    assert _english(said, {"status"}) == []


def test_taxonomy_rows_with_wrong_parents_are_explained_in_chinese(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    shared_city(session)
    csrf = sign_in(client, "root")
    files = {
        # a code whose parent is another's, a parent that is not there, a row that is no mapping
        "t.yaml": ("categories:\n"
                   "  - {code: '01', name: 城市管理}\n"
                   "  - {code: '0101', name: 路灯, parent_code: '02'}\n"
                   "  - {code: '0301', name: 无上级, parent_code: '03'}\n"
                   "  - {code: '01', name: 又一个}\n"
                   "  - 只是一行字\n"),
        # a column no taxonomy has
        "t.csv": "编码,名称,颜色\n01,城市管理,红\n",
        # not YAML at all
        "u.yaml": "categories: [\n",
    }  # fmt: skip
    for name, text in files.items():
        answer = client.post(
            "/console/hub/categories", data={"csrf_token": csrf, "form_token": form_token()},
            files={"file": (name, text.encode())}, headers={"Accept": "text/html"},
        )  # fmt: skip
        assert answer.status_code < 500
        said = _said(answer.text)
        assert said, f"{name}: nothing said"
        problems = [p for text in said for p in _english(text, {"code", "parent_code", "name"})]
        assert problems == [], f"{name}:\n" + "\n".join(problems)
        assert re.search(r"[\u4e00-\u9fff]", " ".join(said))
