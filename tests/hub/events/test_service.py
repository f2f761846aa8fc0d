from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from citybase.cli import app
from citybase.core.db.engine import Database
from citybase.core.identity.schemas import Role
from citybase.core.ledger.schemas import Actor
from citybase.demo.seed import TAXONOMY_FILE
from citybase.hub.events import service
from tests.core.identity.factories import make_user, sign_in

ACTOR = Actor.system("test")
YAML = b"""\
categories:
  - code: '01'
    name: \xe5\x9f\x8e\xe4\xb9\xa1\xe5\xbb\xba\xe8\xae\xbe
    children:
      - code: '0101'
        name: A
        keywords: x, y
        children:
          - {code: '010101', name: B}
  - code: '02'
    name: C
"""


def test_the_demo_taxonomy_loads_as_a_tree_of_three_levels(session: Session) -> None:
    report = service.import_taxonomy(session, ACTOR, TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())
    assert report.applied
    assert not report.problems
    tree = service.tree(session)
    assert len(tree) >= 12
    assert tree[0]["category"].name == "城乡建设与管理"
    assert [c.name for c in service.path_of(session, "010203")] == [
        "城乡建设与管理",
        "市政设施",
        "路灯故障",
    ]
    again = service.import_taxonomy(session, ACTOR, TAXONOMY_FILE.name, TAXONOMY_FILE.read_bytes())
    assert again.created == 0
    assert again.unchanged == again.rows


def test_yaml_and_csv_load_and_problems_are_named(session: Session) -> None:
    report = service.import_taxonomy(session, ACTOR, "t.yaml", YAML)
    assert (report.created, report.rows) == (4, 4)
    assert service.get_category(session, "0101").keywords == ["x", "y"]
    csv_text = "编码,名称,上级编码,关键词\n0102,D,01,路灯、井盖\n010201,E,0102,\n".encode()
    report = service.import_taxonomy(session, ACTOR, "t.csv", csv_text)
    assert report.created == 2
    assert service.get_category(session, "0102").keywords == ["路灯", "井盖"]
    bad = (
        b"code,name,parent\n"
        b"0301,F,\n"  # a 小类 with no parent
        b"0302,G,03\n"  # its parent 03 does not exist
        b"01,H,\n0101,dup,01\n0101,dup again,01\n"  # given twice
        b"9,bad code,\n"
    )
    report = service.import_taxonomy(session, ACTOR, "bad.csv", bad)
    assert not report.applied
    found = {(p.row, p.field) for p in report.problems}
    assert (2, "parent_code") in found
    assert (3, "parent_code") in found
    assert (6, "code") in found
    assert (7, "code") in found
    assert service.get_category(session, "01").name == "城乡建设"  # nothing of it was loaded
    broken = service.import_taxonomy(session, ACTOR, "t.yaml", b"categories:\n  - code: [\n")
    assert broken.problems[0].message.startswith("not YAML")


def test_command_api_and_console(
    fresh_db: Database,
    tmp_path: Path,
    client: TestClient,
    session: Session,
    monkeypatch,
    form_token,
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    runner = CliRunner()
    loaded = runner.invoke(app, ["hub", "import-taxonomy", str(TAXONOMY_FILE),
                                 "--data-dir", str(tmp_path)])  # fmt: skip
    assert loaded.exit_code == 0, loaded.output
    assert "loaded" in loaded.output
    service.import_taxonomy(session, ACTOR, "t.yaml", YAML)
    make_user(session, "sup", Role.supervisor, unit=None)
    token = sign_in(client, "sup")
    assert client.get("/api/v1/hub/categories/010101").json()[-1]["name"] == "B"
    page = client.get("/console/hub/categories")
    assert page.status_code == 200
    assert "城乡建设" in page.text
    refused = client.post("/console/hub/categories", data={"csrf_token": token, "form_token": form_token()},
                          files={"file": ("x.csv", b"code,name,parent\n0101,Z,09\n")})  # fmt: skip
    assert refused.status_code == 422
    assert "其上级应为 01" in refused.text
