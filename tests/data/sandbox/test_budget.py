"""Budgets spent by parallel requests: of two queries racing for the last of a budget, one is
spent and the other is not, on SQLite and on PostgreSQL, and what was spent outlives the
process's sessions (it is a committed row)."""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from citybase.core.db.engine import Database
from citybase.data.sandbox import repository
from citybase.data.sandbox.models import SandboxBudget, SandboxGrant


def test_two_parallel_spends_of_the_last_budget_spend_it_once(fresh_db: Database) -> None:
    with Session(fresh_db.engine) as setup:
        grant = SandboxGrant(resource_code="R1", unit_code="fz.health", epsilon_micro=1_000_000,
                             period="month", purpose="统计", legal_basis="依职责",
                             granted_by="steward")  # fmt: skip
        setup.add(grant)
        setup.commit()
        grant_id = grant.id
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def spend() -> None:
        try:
            with Session(fresh_db.engine) as session:
                barrier.wait(timeout=5)
                spent = repository.spend(session, grant_id, "2026-12", 1_000_000, 600_000)
                session.commit()
                results.append(spent)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=spend) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not errors, errors
    assert sorted(results) == [False, True]
    with Session(fresh_db.engine) as after:  # a new session: what was committed
        row = after.query(SandboxBudget).one()
        assert (row.spent_micro, row.queries) == (600_000, 1)
