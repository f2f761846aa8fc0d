"""`citybase federation …` when there is nothing to exchange with, and the settings that say which
part a deployment plays."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from citybase.cli import app
from citybase.core.db.engine import Database
from citybase.core.settings import FederationSettings


def test_a_deployment_that_plays_no_part(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    runner = CliRunner()
    shown = runner.invoke(app, ["federation", "status", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0, shown.output
    assert "role: off" in shown.output
    bridge = runner.invoke(app, ["federation", "bridge", "--data-dir", str(tmp_path)])
    assert bridge.exit_code == 2
    assert "CITYBASE_FEDERATION__ROLE" in bridge.output
    pushed = runner.invoke(app, ["federation", "push", "taxonomy", "--data-dir", str(tmp_path)])
    assert pushed.exit_code == 1
    assert "no district runs its own brain" in pushed.output
    wrong = runner.invoke(app, ["federation", "push", "units", "--data-dir", str(tmp_path)])
    assert wrong.exit_code == 2


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"role": "district"}, "CITYBASE_FEDERATION__DISTRICT_CODE"),
        ({"role": "city"}, "CITYBASE_FEDERATION__DISTRICTS"),
        ({"role": "region"}, "role"),
        ({"role": "city", "districts": ["350102"], "subject_root": "a b"}, "subject_root"),
    ],
)
def test_settings_that_cannot_work_are_refused(given: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as refused:
        FederationSettings.model_validate(given)
    assert named in str(refused.value)
