from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybase.cli import app
from citybase.core.db.engine import Database
from citybase.demo.seed import BOUNDARIES_FILE, DEMO_FILE, DEMO_STEPS

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [[], ["demo"], ["init"], ["serve"], ["worker"], ["ledger", "verify"], ["orgs", "import"],
     ["users", "create"], ["cockpit", "import"], ["cockpit", "indicators"],
     ["dispatch", "train"], ["dispatch", "predict"], ["dispatch", "evaluate"],
     ["perception", "score-series"], ["hub", "import-taxonomy"], ["hub", "rebuild-figures"],
     ["cockpit", "reminders"], ["orgs", "boundaries"], ["orgs", "at"],
     ["perception", "entities", "hand-over"]],
)  # fmt: skip
def test_every_command_has_help_and_a_data_dir(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    if command:
        assert "--data-dir" in result.output


def test_demo_builds_then_reuses(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fresh_db.dialect != "sqlite":
        pytest.skip("the command is the same on both: its build on PostgreSQL is test_seed's")
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    first = runner.invoke(app, ["demo", "--no-serve", "--data-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "built the demo city" in first.output
    assert "citybase-demo" in first.output
    # it says what it does from the start, then each step with the share done (as a log
    # shows it; a terminal gets a bar with the time remaining)
    lines = first.output.splitlines()
    assert lines[0] == "citybase demo: loading the platform…"
    steps = [line for line in lines if line.startswith("[")]
    assert steps[0] == "[  0%] regions and units"
    assert steps[-2].endswith("sensor alarms into cases")
    assert steps[-1] == "[100%] Finished"
    assert len(steps) == len(DEMO_STEPS) + 1
    second = runner.invoke(
        app, ["demo", "--no-serve", "--data-dir", str(tmp_path), "--port", "8123"]
    )
    assert second.exit_code == 0
    assert "reusing the demo city" in second.output
    assert "8123" in second.output


def test_init_creates_the_first_admin_once(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    args = ["init", "--data-dir", str(tmp_path), "--admin-password", "a long password"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "created platform admin" in first.output
    again = runner.invoke(app, args)
    assert "created platform admin" not in again.output


def test_orgs_import_reports_bad_rows(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    bad = tmp_path / "r.csv"
    bad.write_text(
        "code,name,level,kind,parent\n350100,福州市,city,,\n350102,鼓楼区,moon,,350100\n"
    )
    result = runner.invoke(app, ["orgs", "import", str(bad), "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "nothing was imported" in result.output
    assert "level" in result.output


def test_worker_once(fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    result = runner.invoke(app, ["worker", "--once", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_hub_rebuild_figures_counts_again(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    result = runner.invoke(app, ["hub", "rebuild-figures", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "counted again" in result.output


def test_production_mode_needs_its_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBASE_MODE", "production")
    result = runner.invoke(app, ["worker", "--once", "--data-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "CITYBASE_LEDGER__SIGNING_KEY" in str(result.exception) + result.output


def test_orgs_boundaries_imports_outlines_and_places_a_point(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    home = ["--data-dir", str(tmp_path)]
    assert runner.invoke(app, ["orgs", "import", str(DEMO_FILE), *home]).exit_code == 0
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", '
                   '"properties": {"adcode": "999999"}, "geometry": null}]}')  # fmt: skip
    refused = runner.invoke(app, ["orgs", "boundaries", str(bad), *home])
    assert refused.exit_code == 1
    assert "no region with code 999999" in refused.output
    done = runner.invoke(app, ["orgs", "boundaries", str(BOUNDARIES_FILE), "--source", "demo",
                               *home])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "22 new" in done.output
    at = runner.invoke(app, ["orgs", "at", "119.298", "26.089", *home])
    assert at.exit_code == 0
    assert "虎节社区第二网格" in at.output
    assert runner.invoke(app, ["orgs", "at", "100", "20", *home]).exit_code == 1
