"""`citybase keys create`: a machine client's key from the command line, shown once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role
from tests.core.identity.factories import make_user


def test_a_key_is_made_for_a_user_and_printed_once(
    fresh_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from citybase.cli import app

    monkeypatch.setenv("CITYBASE_DATABASE_URL", fresh_db.url)
    with fresh_db.session_scope() as session:
        make_user(session, "suite", Role.unit_admin, unit=None)
    home = ["--data-dir", str(tmp_path)]
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "create", "--user", "suite", "--name", "etsi", *home])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    with fresh_db.session_scope() as session:
        principal = identity.principal_from_api_key(session, secret)
        assert principal is not None
        assert (principal.username, principal.via) == ("suite", "api_key")
        keys = identity.list_api_keys(session, principal)
        assert [k.name for k in keys] == ["etsi"]
    # the key is kept only as its hash: printed once, never again
    listed = runner.invoke(app, ["keys", "create", "--user", "suite", "--name", "etsi2", *home])
    assert secret not in listed.output
    # no such user, or a scope the user does not hold: refused, nothing made
    for args in (["--user", "nobody", "--name", "x"],
                 ["--user", "suite", "--name", "x", "--scope", "no:such"]):  # fmt: skip
        refused = runner.invoke(app, ["keys", "create", *args, *home])
        assert refused.exit_code == 1
    with fresh_db.session_scope() as session:
        principal = identity.principal_from_api_key(session, secret)
        assert principal is not None
        assert len(identity.list_api_keys(session, principal)) == 2
