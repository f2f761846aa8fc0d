from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from citybase.core.settings import Mode, Settings


def test_every_setting_has_a_default_and_a_description() -> None:
    def check(model: type) -> None:
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            assert field.description or hasattr(field.annotation, "model_fields"), name
            if hasattr(field.annotation, "model_fields"):
                check(field.annotation)

    check(Settings)


def test_embedded_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'citybase.db'}"
    assert settings.secure_cookies is False


def test_nested_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CITYBASE_WEB__PORT", "9000")
    monkeypatch.setenv("CITYBASE_HOME", str(tmp_path))
    settings = Settings()
    assert settings.web.port == 9000
    assert settings.home == tmp_path


def test_production_refuses_missing_secrets() -> None:
    with pytest.raises(ValidationError, match="CITYBASE_LEDGER__SIGNING_KEY"):
        Settings(mode=Mode.production, database_url="postgresql://x")


def test_development_secrets_are_generated_once(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    key = settings.ledger_signing_key
    assert len(bytes.fromhex(key)) == 32
    assert Settings(home=tmp_path).ledger_signing_key == key
    assert (tmp_path / "secrets" / "ledger_signing_key").stat().st_mode & 0o077 == 0
