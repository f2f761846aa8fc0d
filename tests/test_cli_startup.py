"""`citybase --help` imports what builds the commands, not the application: the services and their
libraries are imported by the command that runs. Checked on the modules a fresh process holds
after answering, not on a timing (``bench/cli_startup_bench.py`` measures that)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "citybase.app",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "pydantic_settings",
    "sklearn",
    "scipy",
    "numpy",
    "pandas",
    "pyld",
    "shapely",
    "paho",
    "nats",
)

PROBE = """
import importlib, json, sys
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
sys.argv = ["citybase", *json.loads(sys.argv[1])]
from citybase.cli import main
try:
    main()
except SystemExit:
    pass
print("MODULES" + json.dumps(sorted(sys.modules)))
"""


def _modules_after(args: list[str], preload: tuple[str, ...] = ()) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(preload)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "Usage:" in done.stdout, done.stdout + done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES"))
    return set(json.loads(line.removeprefix("MODULES")))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


def _services(modules: set[str]) -> list[str]:
    return sorted(
        m for m in modules
        if m.startswith("citybase.") and m.rsplit(".", 1)[-1] in ("service", "routes", "models")
    )  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [["--help"], ["perception", "mqtt", "--help"], ["ledger", "verify", "--help"],
     ["users", "create", "--help"], ["dispatch", "train", "--help"], ["worker", "--help"]],
)  # fmt: skip
def test_help_imports_no_application(args: list[str]) -> None:
    modules = _modules_after(args)
    assert _heavy(modules) == [], f"`citybase {' '.join(args)}` imported {_heavy(modules)[:10]}"
    assert _services(modules) == []


def test_the_probe_finds_the_application_when_it_is_imported() -> None:
    """The same probe, in a process that imported the application first, finds it and its
    libraries: the check above can fail."""
    modules = _modules_after(["--help"], preload=("citybase.app",))
    assert {"citybase.app", "fastapi", "sqlalchemy"} <= set(_heavy(modules))
    assert _services(modules)


def test_users_cli_roles_are_the_roles() -> None:
    from citybase.core.identity.cli import RoleName
    from citybase.core.identity.schemas import Role

    assert [r.value for r in RoleName] == [r.value for r in Role]
