from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from citybase.cli import app
from citybase.core.db.engine import Database
from citybase.demo.seed import DEMO_FILE

runner = CliRunner()
PLANS = sorted((DEMO_FILE.parent / "plans").glob("*.yaml"))


@pytest.fixture
def data(fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A platform with the demo city's regions and units, and no plans."""
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    data = ["--data-dir", str(tmp_path)]
    assert runner.invoke(app, ["init", "--admin-password", "long-password-1", *data]).exit_code == 0
    assert runner.invoke(app, ["orgs", "import", str(DEMO_FILE), *data]).exit_code == 0
    return data


def test_the_demo_plans_load_and_every_indicator_is_listed(data: list[str]) -> None:
    loaded = runner.invoke(app, ["cockpit", "import", *map(str, PLANS), *data])
    assert loaded.exit_code == 0, loaded.output
    for path in PLANS:
        plan = yaml.safe_load(path.read_text(encoding="utf-8"))
        counts = f"{len(plan.get('indicators', []))} indicators, {len(plan.get('tasks', []))} tasks"
        assert f"{plan['code']} revision 1: {counts}" in loaded.output
    listed = runner.invoke(app, ["cockpit", "indicators", "--format", "json", *data])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    stations = next(r for r in rows if r["code"] == "5g-stations-per-10k")
    assert (stations["target_year"], stations["target"], stations["status"]) == (2025, 35, "none")
    assert {r["plan"] for r in rows} == {p.stem for p in PLANS if "indicators:" in p.read_text()}
    assert "fz-work-points-2021 revision 1: 0 indicators, 30 tasks" in loaded.output
    table = runner.invoke(app, ["cockpit", "indicators", "--plan", "fz-digital-14th", *data])
    assert table.exit_code == 0
    assert "fz-digital" in table.output


def test_a_bad_file_loads_nothing_and_says_where(data: list[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLANS[0].read_text(encoding="utf-8").replace("direction: higher", "direction: up", 1),
                   encoding="utf-8")  # fmt: skip
    result = runner.invoke(app, ["cockpit", "import", str(PLANS[1]), str(bad), *data])
    assert result.exit_code == 1
    assert "bad.yaml:" in result.output
    assert "direction" in result.output
    assert "nothing was loaded" in result.output
    listed = runner.invoke(app, ["cockpit", "indicators", "--format", "json", *data])
    assert json.loads(listed.output) == []


def test_a_closed_month_is_measured_from_the_command_line_once(data: list[str]) -> None:
    assert runner.invoke(app, ["cockpit", "import", *map(str, PLANS), *data]).exit_code == 0
    # the platform's own records: the demo's catalog holds no published resource here, so the
    # counts of resources are zero and still written; no 12345 case: the rates write nothing
    first = runner.invoke(app, ["cockpit", "measure", "--month", "2026-01", *data])
    assert first.exit_code == 0, first.output
    assert "awaiting review" in first.output
    assert "(data.catalog.published)" in first.output
    assert "hub.hotline" not in first.output
    again = runner.invoke(app, ["cockpit", "measure", "--month", "2026-01", *data])
    assert "0 measured value(s) written" in again.output
    for wrong in ("2026-13", "next", "2999-01"):
        refused = runner.invoke(app, ["cockpit", "measure", "--month", wrong, *data])
        assert refused.exit_code == 2
