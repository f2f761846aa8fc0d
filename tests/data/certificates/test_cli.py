"""`citybase certificates verify` offline: with a published key it needs no database; a forged
token, a key that did not sign it, or fields other than the signed ones exit non-zero."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from citybase.cli import app
from citybase.data.certificates import service, signing
from tests.data.certificates.factories import cert_city, issue_birth

runner = CliRunner()


def test_verify_offline_with_the_published_key(session: Session, tmp_path: Path) -> None:
    made = issue_birth(session, cert_city(session))
    keys = [k.model_dump(mode="json") for k in service.list_public_keys(session)]
    key_file = tmp_path / "keys.json"
    key_file.write_text(json.dumps(keys))
    ok = runner.invoke(app, ["certificates", "verify", made.token, "--keys", str(key_file)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output
    assert "offline" in ok.output
    url = service.verification_url("https://gov.example", made.token)
    by_url = runner.invoke(app, ["certificates", "verify", url, "--key", keys[0]["public_key"]])
    assert by_url.exit_code == 0, by_url.output
    token = signing.read_token(made.token)
    forged = signing.make_token(signing.canonical(dict(token.payload, holder="李四")),
                                token.signature)  # fmt: skip
    bad = runner.invoke(app, ["certificates", "verify", forged, "--keys", str(key_file)])
    assert bad.exit_code == 1
    assert "forged" in bad.output
    other = signing.generate_key_pair().public_hex
    wrong_key = runner.invoke(app, ["certificates", "verify", made.token, "--key", other])
    assert wrong_key.exit_code == 1
    record = tmp_path / "certificate.json"
    record.write_text(made.model_dump_json())
    whole = runner.invoke(app, ["certificates", "verify", str(record), "--keys", str(key_file)])
    assert whole.exit_code == 0, whole.output
    record.write_text(json.dumps(made.model_dump(mode="json") | {"fields": {"mother": "王芳"}}))
    altered = runner.invoke(app, ["certificates", "verify", str(record), "--keys", str(key_file)])
    assert altered.exit_code == 1
    assert "differ" in altered.output
