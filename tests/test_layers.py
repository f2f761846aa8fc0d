"""Domains meet only at service.py, schemas.py and auth.py (and on the bus).

import-linter checks the layers; this checks the rule inside them: no module imports another
domain's models or repository.
"""

from __future__ import annotations

import ast
from pathlib import Path

import citybase

ROOT = Path(citybase.__file__).parent
PRIVATE = {"models", "repository", "views", "routes", "tasks", "cli"}


def _domain_of(module: str) -> str | None:
    parts = module.split(".")
    # citybase.<layer>.<domain>.<file>
    return ".".join(parts[:3]) if len(parts) >= 4 else None


def _violations() -> list[str]:
    found = []
    for path in ROOT.rglob("*.py"):
        module = "citybase." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _domain_of(module)
        if own is None:
            continue  # app.py, cli.py, migrations and demo may know every domain
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("citybase.")
            ):
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                for target in targets:
                    parts = target.split(".")
                    if len(parts) == 4 and parts[3] in PRIVATE and _domain_of(target) != own:
                        found.append(f"{module} imports {target}")
    return found


def test_no_domain_reaches_into_another() -> None:
    assert _violations() == []
