"""Every query of the base libraries' tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import String, cast, delete, func, insert, select, update
from sqlalchemy.orm import Session

from citybase.data.baselib.models import (
    BaseEntity,
    EntityLink,
    GoldenField,
    LinkRun,
    RecordKey,
    ReviewItem,
    ThemeBuild,
    ThemeLibrary,
)


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def add_all(session: Session, objs: Iterable[object]) -> None:
    session.add_all(list(objs))
    session.flush()


def insert_links(session: Session, rows: list[dict[str, Any]]) -> None:
    """Many links at once, given as their columns (a plain insert: no object is kept in the
    session)."""
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(EntityLink), rows[start : start + CHUNK])


def last_run(session: Session, kind: str) -> LinkRun | None:
    """The last full run (the one whose model is kept)."""
    return session.scalar(
        select(LinkRun).where(LinkRun.kind == kind, LinkRun.finished_at.is_not(None),
                              LinkRun.incremental.is_(False))
        .order_by(LinkRun.id.desc()).limit(1)
    )  # fmt: skip


def runs(session: Session, kind: str, limit: int = 20) -> list[LinkRun]:
    return list(session.scalars(
        select(LinkRun).where(LinkRun.kind == kind).order_by(LinkRun.id.desc()).limit(limit)
    ))  # fmt: skip


def run_page(
    session: Session, kind: str, *, incremental: bool | None = None, resource: str = "",
    status: str = "", limit: int = 50, offset: int = 0,
) -> tuple[list[LinkRun], int]:  # fmt: skip
    """A page of the kind's runs, newest first, and how many match: full or incremental only,
    those that read one resource (its code, quoted, within the list of codes kept), or those
    finished, failed or running."""
    query = select(LinkRun).where(LinkRun.kind == kind)
    if incremental is not None:
        query = query.where(LinkRun.incremental.is_(incremental))
    if status == "finished":
        query = query.where(LinkRun.finished_at.is_not(None))
    elif status == "failed":
        query = query.where(LinkRun.error != "")
    elif status == "running":
        query = query.where(LinkRun.finished_at.is_(None), LinkRun.error == "")
    if resource:
        quoted = f'"{resource}"'  # as the list of codes is kept, in JSON
        query = query.where(cast(LinkRun.resources, String).contains(quoted, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    found = session.scalars(query.order_by(LinkRun.id.desc()).limit(limit).offset(offset))
    return list(found), total


def run_resources(session: Session, kind: str) -> set[str]:
    """Every resource a run of the kind has read."""
    return {
        code for codes in session.scalars(select(LinkRun.resources).where(LinkRun.kind == kind))
        for code in codes or []
    }  # fmt: skip


def run(session: Session, run_id: int) -> LinkRun | None:
    return session.get(LinkRun, run_id)


def reviews_of_run(session: Session, run_id: int, limit: int = 500) -> list[ReviewItem]:
    return list(session.scalars(
        select(ReviewItem).where(ReviewItem.run_id == run_id)
        .order_by(ReviewItem.probability.desc()).limit(limit)
    ))  # fmt: skip


def entities_made_by(session: Session, run_id: int, limit: int = 500) -> list[BaseEntity]:
    """The files a run created (each keeps the run that made it)."""
    return list(session.scalars(
        select(BaseEntity).where(BaseEntity.run_id == run_id).order_by(BaseEntity.id).limit(limit)
    ))  # fmt: skip


def count_entities_made_by(session: Session, run_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(BaseEntity).where(BaseEntity.run_id == run_id)
    ) or 0  # fmt: skip


def count_entities_made_by_runs(session: Session, run_ids: list[int]) -> dict[int, int]:
    if not run_ids:
        return {}
    found = session.execute(
        select(BaseEntity.run_id, func.count()).where(BaseEntity.run_id.in_(run_ids))
        .group_by(BaseEntity.run_id)
    )  # fmt: skip
    return {run_id: count for run_id, count in found}


def links(session: Session, kind: str) -> list[EntityLink]:
    return list(session.scalars(select(EntityLink).where(EntityLink.kind == kind)))


def links_of(session: Session, entity_id: int) -> list[EntityLink]:
    return list(session.scalars(
        select(EntityLink).where(EntityLink.entity_id == entity_id).order_by(EntityLink.record_uid)
    ))  # fmt: skip


def delete_links(session: Session, kind: str) -> None:
    session.execute(delete(EntityLink).where(EntityLink.kind == kind))
    session.execute(delete(RecordKey).where(RecordKey.kind == kind))


CHUNK = 500


def _chunks(values: Iterable[str | int]) -> Iterable[list[Any]]:
    listed = list(values)
    for start in range(0, len(listed), CHUNK):
        yield listed[start : start + CHUNK]


class LinkMark(NamedTuple):
    """What telling a resource's changed rows needs of a link, without its values."""

    record_uid: str
    fingerprint: str
    entity_id: int


def link_marks(session: Session, kind: str, code: str) -> list[LinkMark]:
    return [LinkMark(u, f, e) for u, f, e in session.execute(
        select(EntityLink.record_uid, EntityLink.fingerprint, EntityLink.entity_id)
        .where(EntityLink.kind == kind, EntityLink.resource_code == code))]  # fmt: skip


class LinkValues(NamedTuple):
    """A link's row and values, as linking and choosing golden fields read them (no object is
    kept in the session)."""

    record_uid: str
    entity_id: int
    resource_code: str
    row_no: int
    raw: dict[str, Any]
    prepared: dict[str, Any]


_VALUES = (EntityLink.record_uid, EntityLink.entity_id, EntityLink.resource_code,
           EntityLink.row_no, EntityLink.raw, EntityLink.prepared)  # fmt: skip


def link_values_by_uids(session: Session, kind: str, uids: Iterable[str]) -> list[LinkValues]:
    out: list[LinkValues] = []
    for chunk in _chunks(uids):
        out.extend(LinkValues(*row) for row in session.execute(
            select(*_VALUES).where(EntityLink.kind == kind, EntityLink.record_uid.in_(chunk))))  # fmt: skip
    return out


def link_values_of_entities(session: Session, entity_ids: Iterable[int]) -> list[LinkValues]:
    out: list[LinkValues] = []
    for chunk in _chunks(entity_ids):
        out.extend(LinkValues(*row) for row in session.execute(
            select(*_VALUES).where(EntityLink.entity_id.in_(chunk))))  # fmt: skip
    return out


def links_of_resource(session: Session, kind: str, code: str) -> list[EntityLink]:
    return list(session.scalars(
        select(EntityLink).where(EntityLink.kind == kind, EntityLink.resource_code == code)
    ))  # fmt: skip


def links_by_uids(session: Session, kind: str, uids: Iterable[str]) -> list[EntityLink]:
    out: list[EntityLink] = []
    for chunk in _chunks(uids):
        out.extend(session.scalars(
            select(EntityLink).where(EntityLink.kind == kind, EntityLink.record_uid.in_(chunk))
        ))  # fmt: skip
    return out


def links_of_entities(session: Session, entity_ids: Iterable[int]) -> list[EntityLink]:
    out: list[EntityLink] = []
    for chunk in _chunks(entity_ids):
        out.extend(session.scalars(select(EntityLink).where(EntityLink.entity_id.in_(chunk))))
    return out


def delete_links_by_uids(session: Session, kind: str, uids: Iterable[str]) -> None:
    for chunk in _chunks(uids):
        session.execute(delete(EntityLink).where(EntityLink.kind == kind,
                                                 EntityLink.record_uid.in_(chunk))
                        .execution_options(synchronize_session="fetch"))  # fmt: skip
        session.execute(delete(RecordKey).where(RecordKey.kind == kind,
                                                RecordKey.record_uid.in_(chunk))
                        .execution_options(synchronize_session=False))  # fmt: skip


def move_links(session: Session, from_entity: int, to_entity: int) -> None:
    session.execute(update(EntityLink).where(EntityLink.entity_id == from_entity)
                    .values(entity_id=to_entity)
                    .execution_options(synchronize_session="fetch"))  # fmt: skip


def add_keys(session: Session, kind: str, keys: dict[str, list[str]]) -> None:
    """Index records by their keys (record uid → keys)."""
    rows = [{"kind": kind, "key": k, "record_uid": uid} for uid, ks in keys.items() for k in ks]
    if rows:
        session.execute(insert(RecordKey), rows)


def uids_by_keys(session: Session, kind: str, keys: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for chunk in _chunks(set(keys)):
        out.update(session.scalars(
            select(RecordKey.record_uid).where(RecordKey.kind == kind, RecordKey.key.in_(chunk))
        ))  # fmt: skip
    return out


def key_counts(session: Session, kind: str, keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(set(keys)):
        found = session.execute(
            select(RecordKey.key, func.count()).where(RecordKey.kind == kind,
                                                      RecordKey.key.in_(chunk))
            .group_by(RecordKey.key)
        )  # fmt: skip
        out.update((str(k), int(n)) for k, n in found)
    return out


def count_keys_starting(session: Session, kind: str, prefix: str) -> int:
    return session.scalar(
        select(func.count()).select_from(RecordKey)
        .where(RecordKey.kind == kind, RecordKey.key.startswith(prefix, autoescape=True))
    ) or 0  # fmt: skip


def entities_by_ids(session: Session, entity_ids: Iterable[int]) -> list[BaseEntity]:
    out: list[BaseEntity] = []
    for chunk in _chunks(entity_ids):
        out.extend(session.scalars(select(BaseEntity).where(BaseEntity.id.in_(chunk))))
    return out


def delete_open_reviews_of(session: Session, kind: str, uids: Iterable[str]) -> None:
    for chunk in _chunks(uids):
        session.execute(delete(ReviewItem).where(
            ReviewItem.kind == kind, ReviewItem.status == "open",
            (ReviewItem.left_uid.in_(chunk)) | (ReviewItem.right_uid.in_(chunk)),
        ))  # fmt: skip


def entity(session: Session, entity_id: int) -> BaseEntity | None:
    return session.get(BaseEntity, entity_id)


def entities(session: Session, kind: str) -> list[BaseEntity]:
    return list(session.scalars(select(BaseEntity).where(BaseEntity.kind == kind)))


def entities_by_subject(session: Session, kind: str, subject: str) -> list[BaseEntity]:
    return list(session.scalars(
        select(BaseEntity).where(BaseEntity.kind == kind, BaseEntity.subject == subject,
                                 BaseEntity.records > 0)
    ))  # fmt: skip


def entities_by_rep_subject(session: Session, rep_subject: str) -> list[BaseEntity]:
    return list(session.scalars(
        select(BaseEntity).where(BaseEntity.kind == "enterprise",
                                 BaseEntity.rep_subject == rep_subject, BaseEntity.records > 0)
        .order_by(BaseEntity.id)
    ))  # fmt: skip


def count_entities(session: Session, kind: str) -> int:
    return session.scalar(
        select(func.count()).select_from(BaseEntity)
        .where(BaseEntity.kind == kind, BaseEntity.records > 0)
    ) or 0  # fmt: skip


def golden(session: Session, entity_id: int) -> list[GoldenField]:
    return list(session.scalars(
        select(GoldenField).where(GoldenField.entity_id == entity_id).order_by(GoldenField.id)
    ))  # fmt: skip


def golden_of_kind(session: Session, kind: str) -> list[GoldenField]:
    return list(session.scalars(
        select(GoldenField).join(BaseEntity, BaseEntity.id == GoldenField.entity_id)
        .where(BaseEntity.kind == kind)
    ))  # fmt: skip


def delete_golden(session: Session, entity_ids: list[int]) -> None:
    for chunk in _chunks(entity_ids):
        session.execute(delete(GoldenField).where(GoldenField.entity_id.in_(chunk))
                        .execution_options(synchronize_session=False))  # fmt: skip


def add_golden(session: Session, fields: Sequence[Any]) -> None:
    """Many fields at once, given with the columns' names as attributes (a plain insert: no
    object is kept in the session)."""
    columns = [c.key for c in GoldenField.__table__.columns if c.key != "id"]
    rows = [{c: getattr(f, c) for c in columns} for f in fields]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(GoldenField), rows[start : start + CHUNK])


def disputed_values(session: Session, entity_ids: Iterable[int]) -> list[tuple[int, str, Any]]:
    """(entity, field, alternatives) of the given files' fields that hold other values."""
    out: list[tuple[int, str, Any]] = []
    for chunk in _chunks(entity_ids):
        out.extend((int(e), str(f), a) for e, f, a in session.execute(
            select(GoldenField.entity_id, GoldenField.field, GoldenField.alternatives)
            .where(GoldenField.entity_id.in_(chunk))
        ))  # fmt: skip
    return out


def reviews(
    session: Session, kind: str, status: str | None = None, limit: int = 200
) -> list[ReviewItem]:
    query = select(ReviewItem).where(ReviewItem.kind == kind)
    if status:
        query = query.where(ReviewItem.status == status)
    return list(session.scalars(query.order_by(ReviewItem.probability.desc()).limit(limit)))


def all_reviews(session: Session, kind: str) -> list[ReviewItem]:
    return list(session.scalars(select(ReviewItem).where(ReviewItem.kind == kind)))


def review(session: Session, review_id: int) -> ReviewItem | None:
    return session.get(ReviewItem, review_id)


def delete_open_reviews(session: Session, kind: str) -> None:
    session.execute(delete(ReviewItem).where(ReviewItem.kind == kind, ReviewItem.status == "open"))


# --- theme libraries ------------------------------------------------------------------------------


def golden_for(session: Session, entity_ids: list[int]) -> list[GoldenField]:
    out: list[GoldenField] = []
    for start in range(0, len(entity_ids), 500):
        chunk = entity_ids[start : start + 500]
        out.extend(session.scalars(select(GoldenField).where(GoldenField.entity_id.in_(chunk))))
    return out


def themes(session: Session) -> list[ThemeLibrary]:
    return list(session.scalars(select(ThemeLibrary).order_by(ThemeLibrary.code)))


def theme_by_code(session: Session, code: str) -> ThemeLibrary | None:
    return session.scalar(select(ThemeLibrary).where(ThemeLibrary.code == code))


def theme_by_resource(session: Session, resource_code: str) -> ThemeLibrary | None:
    return session.scalar(select(ThemeLibrary).where(ThemeLibrary.resource_code == resource_code))


def themes_due(session: Session, now: datetime) -> list[ThemeLibrary]:
    return list(session.scalars(
        select(ThemeLibrary).where(ThemeLibrary.next_due_at.is_not(None),
                                   ThemeLibrary.next_due_at <= now, ThemeLibrary.built_by != "")
        .order_by(ThemeLibrary.next_due_at)
    ))  # fmt: skip


def theme_builds(session: Session, theme_id: int, limit: int = 50) -> list[ThemeBuild]:
    return list(session.scalars(
        select(ThemeBuild).where(ThemeBuild.theme_id == theme_id)
        .order_by(ThemeBuild.id.desc()).limit(limit)
    ))  # fmt: skip


def count_themes_built(session: Session, at: datetime) -> int:
    """Theme libraries with at least one build that had succeeded by ``at``."""
    return session.scalar(
        select(func.count(func.distinct(ThemeBuild.theme_id))).where(
            ThemeBuild.status == "ok", ThemeBuild.finished_at.is_not(None),
            ThemeBuild.finished_at <= at,
        )
    ) or 0  # fmt: skip
