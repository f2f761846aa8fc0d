from __future__ import annotations

from pathlib import Path

from citybase.core.settings import settings_reference

DOC = Path(__file__).parents[2] / "docs" / "settings.md"


def test_the_settings_page_lists_every_setting_as_the_code_has_it() -> None:
    assert settings_reference() in DOC.read_text()
