"""The demo city's theme libraries (主题库): defined from ``themes.yaml`` by the platform admin for
their owner units, built, and the open ones taken through the catalog's workflow to the
open-data portal (the bureau's steward approves, registers and publishes them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.settings import Settings
from citybase.data.baselib import theme_builds, themes
from citybase.data.baselib.schemas import ThemeCreate
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import Status, Transition
from citybase.data.masking import operators as ops

THEMES_FILE = Path(__file__).parent / "themes.yaml"


def _codes_by_name(session: Session) -> dict[str, str]:
    return {
        r.name: r.code
        for r in catalog.registered_resources(session)
        if r.status in (Status.registered, Status.published)
    }


def seed_themes(session: Session, settings: Settings) -> list[str]:
    """Define and build the demo's theme libraries; returns their codes."""
    admin = identity.principal_for(session, "admin")
    bureau = identity.principal_for(session, "steward")
    keys = ops.keys_for(settings.masking_key)
    codes = _codes_by_name(session)
    made = []
    for entry in yaml.safe_load(THEMES_FILE.read_text(encoding="utf-8")):
        spec: dict[str, Any] = entry["spec"]
        for source in spec["sources"]:
            if "resource" in source:
                source["resource"] = codes[source["resource"]]
        theme = themes.define_theme(session, admin, ThemeCreate(code=entry["code"], spec=spec))
        build = theme_builds.build_theme(session, admin, theme.code, keys, settings.baselib)
        if build.status != "ok":
            raise RuntimeError(f"the demo's theme library {theme.code} does not build: "
                               f"{build.message}")  # fmt: skip
        steps = (
            ("approve", "register", "publish") if entry.get("publish") else ("approve", "register")
        )
        for action in steps:
            catalog.transition(session, bureau, theme.resource_code, action, Transition())
        made.append(theme.code)
    return made
