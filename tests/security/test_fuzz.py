"""A schema-driven fuzz of the whole API: every operation of the OpenAPI document, with inputs
generated from its schema (valid ones, and ones that break it), as a platform admin and as
nobody. Whatever comes in, the answer is never a 5xx.

Runs on SQLite only, in process (ASGI, no network), derandomized so that a failure repeats.
``CITYBASE_FUZZ_EXAMPLES`` sets the examples per operation and generation mode (default 8);
``CITYBASE_FUZZ_SEED`` draws other examples (a broader search by hand) instead of the fixed ones.
"""

from __future__ import annotations

import logging
import os
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode
from sqlalchemy.orm import Session

from citybase.app import create_app
from citybase.core.db import migrate
from citybase.core.db.engine import Database
from citybase.core.identity import service as identity
from citybase.core.identity.models import User
from citybase.core.identity.schemas import ApiKeyCreate, Role
from citybase.core.settings import Settings
from tests.core.identity.factories import make_user
from tests.core.orgs.factories import make_small_city

EXAMPLES = int(os.environ.get("CITYBASE_FUZZ_EXAMPLES", "8"))
SEED = os.environ.get("CITYBASE_FUZZ_SEED")
METHODS = ("get", "put", "post", "delete", "patch")


def _operations() -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document (built without a database)."""
    with tempfile.TemporaryDirectory(prefix="citybase-fuzz-") as home:
        app = create_app(Settings(home=Path(home), database_url="sqlite://"), Database("sqlite://"))
        spec = app.openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items()
            for method in item if method in METHODS]  # fmt: skip


class _Errors(logging.Handler):
    """The unhandled errors the app logs, so that a 5xx is reported with its cause."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            frames = traceback.extract_tb(record.exc_info[2])[-1:]
            where = ", ".join(f"{f.filename.split('src/')[-1]}:{f.lineno}" for f in frames)
            self.seen.append(f"{record.exc_info[1]!r} at {where}"[:400])


def _admin_key(session: Session, settings_: Settings) -> str:
    make_small_city(session)
    make_user(session, "admin", Role.platform_admin)
    row = session.query(User).filter_by(username="admin").one()
    principal = identity._principal(session, row, via="session", csrf="fuzz")
    return identity.create_api_key(session, settings_, principal, ApiKeyCreate(name="fuzz")).secret


@pytest.fixture(scope="module")
def fuzz_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("fuzz")
    db = Database(f"sqlite:///{home / 'citybase.db'}")
    migrate.upgrade(db.engine)
    settings_ = Settings(home=Path(home) / "home", database_url=db.url)
    with db.session_scope() as session:
        secret = _admin_key(session, settings_)
    app = create_app(settings_, db)
    errors = _Errors()
    logging.getLogger("citybase").addHandler(errors)
    state: dict[str, Any] = {
        "schema": schemathesis.openapi.from_asgi("/openapi.json", app),
        "admin": {"Authorization": f"Bearer {secret}"},
        "errors": errors,
        "operations": 0,
        "requests": 0,
    }
    yield state
    print(f"\nfuzzed {state['operations']} operations with {state['requests']} requests")
    logging.getLogger("citybase").removeHandler(errors)
    db.dispose()


OPERATIONS = _operations()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_makes_a_5xx(method: str, path: str, fuzz_state: dict[str, Any]) -> None:
    operation = fuzz_state["schema"][path][method]
    errors: _Errors = fuzz_state["errors"]
    strategy = st.one_of(operation.as_strategy(mode) for mode in GenerationMode)
    found: list[str] = []

    @given(case=strategy)
    @settings(max_examples=EXAMPLES * 2, derandomize=SEED is None, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: Any) -> None:
        for who, headers in (("admin", fuzz_state["admin"]), ("nobody", {})):
            fuzz_state["requests"] += 1
            errors.seen.clear()
            try:
                response = case.call(headers=headers)
            except Exception as exc:  # the app raised through the transport
                found.append(f"{who} {case.formatted_path}: raised {exc!r}"[:400])
                continue
            if response.status_code >= 500:
                found.append(f"{who} {response.status_code} {case.formatted_path} "
                             f"query={case.query} body={str(case.body)[:120]}: "
                             f"{'; '.join(errors.seen) or response.text[:200]}")  # fmt: skip

    fuzz_state["operations"] += 1
    if SEED is not None:
        run = seed(int(SEED))(run)
    run()
    assert not found, "\n".join(dict.fromkeys(found))
