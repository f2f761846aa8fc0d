from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.hub.dispatch.models import DispatchRule, ModelVersion, PromotionMargins


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def delete(session: Session, obj: object) -> None:
    session.delete(obj)
    session.flush()


def rules(session: Session) -> list[DispatchRule]:
    return list(session.scalars(
        select(DispatchRule).order_by(DispatchRule.category_code, DispatchRule.region_code)
    ))  # fmt: skip


def rule(session: Session, rule_id: int) -> DispatchRule | None:
    return session.get(DispatchRule, rule_id)


def rule_for(session: Session, category_code: str, region_code: str) -> DispatchRule | None:
    return session.scalar(select(DispatchRule).where(
        DispatchRule.category_code == category_code, DispatchRule.region_code == region_code
    ))  # fmt: skip


def candidates(
    session: Session, categories: Iterable[str], regions: Iterable[str]
) -> list[DispatchRule]:
    return list(session.scalars(select(DispatchRule).where(
        DispatchRule.category_code.in_(list(categories)),
        DispatchRule.region_code.in_(list(regions)),
    )))  # fmt: skip


def versions(session: Session, name: str) -> list[ModelVersion]:
    return list(session.scalars(
        select(ModelVersion).where(ModelVersion.name == name).order_by(ModelVersion.version.desc())
    ))  # fmt: skip


def version(session: Session, version_id: int) -> ModelVersion | None:
    return session.get(ModelVersion, version_id)


def champion(session: Session, name: str) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(
        ModelVersion.name == name, ModelVersion.status == "champion"))  # fmt: skip


def next_version(session: Session, name: str) -> int:
    top = session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.name == name))
    return int(top or 0) + 1


def margins(session: Session, model: str) -> PromotionMargins | None:
    return session.scalar(select(PromotionMargins).where(PromotionMargins.model == model))
