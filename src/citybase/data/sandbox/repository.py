"""Every query of the sandbox's tables."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from citybase.data.sandbox.models import (
    SandboxBudget,
    SandboxDeclaration,
    SandboxGrant,
    SandboxQuery,
)


def declaration(session: Session, resource_code: str) -> SandboxDeclaration | None:
    return session.scalars(
        select(SandboxDeclaration).where(SandboxDeclaration.resource_code == resource_code)
    ).one_or_none()


def declarations(
    session: Session, provider_unit_code: str | None = None
) -> list[SandboxDeclaration]:
    statement = select(SandboxDeclaration).order_by(SandboxDeclaration.resource_code)
    if provider_unit_code is not None:
        statement = statement.where(SandboxDeclaration.provider_unit_code == provider_unit_code)
    return list(session.scalars(statement))


def add(session: Session, row: SandboxDeclaration | SandboxGrant | SandboxQuery) -> None:
    session.add(row)
    session.flush()


def grant(session: Session, grant_id: int) -> SandboxGrant | None:
    return session.get(SandboxGrant, grant_id)


def grants(
    session: Session, *, unit_code: str | None = None, username: str | None = None,
    resource_codes: list[str] | None = None, resource_code: str | None = None,
) -> list[SandboxGrant]:  # fmt: skip
    """Newest first. ``username``: grants to the whole unit, or to that user."""
    statement = select(SandboxGrant).order_by(SandboxGrant.id.desc())
    if unit_code is not None:
        statement = statement.where(SandboxGrant.unit_code == unit_code)
    if username is not None:
        statement = statement.where(
            or_(SandboxGrant.username == "", SandboxGrant.username == username)
        )
    if resource_codes is not None:
        statement = statement.where(SandboxGrant.resource_code.in_(resource_codes))
    if resource_code is not None:
        statement = statement.where(SandboxGrant.resource_code == resource_code)
    return list(session.scalars(statement.limit(500)))


def spent(session: Session, grant_ids: list[int], period_key: str) -> dict[int, int]:
    rows = session.execute(
        select(SandboxBudget.grant_id, SandboxBudget.spent_micro).where(
            SandboxBudget.grant_id.in_(grant_ids), SandboxBudget.period_key == period_key
        )
    )
    return {grant_id: micro for grant_id, micro in rows}


def spent_delta(session: Session, grant_ids: list[int], period_key: str) -> dict[int, int]:
    rows = session.execute(
        select(SandboxBudget.grant_id, SandboxBudget.spent_delta_pico).where(
            SandboxBudget.grant_id.in_(grant_ids), SandboxBudget.period_key == period_key
        )
    )
    return {grant_id: pico for grant_id, pico in rows}


def spend(
    session: Session, grant_id: int, period_key: str, budget_micro: int, cost_micro: int,
    budget_delta_pico: int = 0, delta_pico: int = 0,
) -> bool:  # fmt: skip
    """Spend ``cost_micro`` of the grant's budget for the period, or nothing when it would go
    over: one conditional UPDATE, so that of two requests racing for the last of a budget only
    one wins (PostgreSQL re-reads the row the other committed; SQLite takes writes one at a
    time). δ likewise, in the same statement."""
    exists = select(SandboxBudget.id).where(
        SandboxBudget.grant_id == grant_id, SandboxBudget.period_key == period_key
    )
    if session.scalar(exists) is None:
        try:
            with session.begin_nested():
                session.add(SandboxBudget(grant_id=grant_id, period_key=period_key,
                                          budget_micro=budget_micro, spent_micro=0, queries=0,
                                          budget_delta_pico=budget_delta_pico,
                                          spent_delta_pico=0))  # fmt: skip
        except IntegrityError:
            pass  # another request opened the period first: spend from its row
    result = session.execute(
        update(SandboxBudget)
        .where(
            SandboxBudget.grant_id == grant_id,
            SandboxBudget.period_key == period_key,
            SandboxBudget.spent_micro + cost_micro <= SandboxBudget.budget_micro,
            SandboxBudget.spent_delta_pico + delta_pico <= budget_delta_pico,
        )
        .values(
            spent_micro=SandboxBudget.spent_micro + cost_micro,
            spent_delta_pico=SandboxBudget.spent_delta_pico + delta_pico,
            budget_delta_pico=budget_delta_pico,
            queries=SandboxBudget.queries + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def query(session: Session, query_id: int) -> SandboxQuery | None:
    return session.get(SandboxQuery, query_id)


def queries(
    session: Session, *, username: str | None = None, resource_codes: list[str] | None = None,
    limit: int = 50,
) -> list[SandboxQuery]:  # fmt: skip
    statement = select(SandboxQuery).order_by(SandboxQuery.id.desc())
    if username is not None:
        statement = statement.where(SandboxQuery.username == username)
    if resource_codes is not None:
        statement = statement.where(SandboxQuery.resource_code.in_(resource_codes))
    return list(session.scalars(statement.limit(limit)))
