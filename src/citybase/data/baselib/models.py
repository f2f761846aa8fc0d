from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin
from citybase.data.masking.operators import SUBJECT_TAG_LENGTH


class LinkRun(IdMixin, Base):
    """One linkage run of a base library: what it read, the model it trained, what it made.
    Finished (``finished_at`` set), failed (``error`` said; its work was rolled back and
    ``finished_at`` stays empty) or still running."""

    __tablename__ = "baselib_runs"

    kind: Mapped[str] = mapped_column(String(12), index=True)  # person, enterprise
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    run_by: Mapped[str] = mapped_column(String(100))
    resources: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    records: Mapped[int] = mapped_column(default=0)
    pairs: Mapped[int] = mapped_column(default=0)
    entities: Mapped[int] = mapped_column(default=0)
    reviews: Mapped[int] = mapped_column(default=0)
    conflicts: Mapped[int] = mapped_column(default=0)
    match_threshold: Mapped[float] = mapped_column(Float)
    review_threshold: Mapped[float] = mapped_column(Float)
    # an incremental run links one resource's new and changed rows against the model kept by
    # the last full run (whose ``model`` it names), without training
    incremental: Mapped[bool] = mapped_column(default=False)
    # the trained model as the steward reads it: prior, per comparison per level m, u, weight
    model: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # why a run failed (the exception's class and message, cut short; never a traceback or a
    # row's data); empty for a run that did not fail
    error: Mapped[str] = mapped_column(Text, default="", server_default="")


class BaseEntity(IdMixin, TimestampMixin, Base):
    """A person (一人一档) or an enterprise (一企一档) the city knows once."""

    __tablename__ = "baselib_entities"

    kind: Mapped[str] = mapped_column(String(12), index=True)
    # keyed hash of the golden citizen ID or credit code (never the number): how any domain
    # finds the file without holding the number
    subject: Mapped[str] = mapped_column(String(SUBJECT_TAG_LENGTH), default="", index=True)
    # an enterprise's: keyed hash of its legal representative's golden citizen ID (法定代表人证件
    # 号码), so that a signed-in citizen finds the firms he represents without the number kept
    rep_subject: Mapped[str] = mapped_column(String(SUBJECT_TAG_LENGTH), default="", index=True)
    records: Mapped[int] = mapped_column(default=0)  # 0: retired (its records went elsewhere)
    run_id: Mapped[int] = mapped_column(ForeignKey("baselib_runs.id"))


class EntityLink(IdMixin, Base):
    """A source row linked to an entity, with the pair that brought it in and its weights."""

    __tablename__ = "baselib_links"
    __table_args__ = (UniqueConstraint("kind", "record_uid"),)

    kind: Mapped[str] = mapped_column(String(12))
    record_uid: Mapped[str] = mapped_column(String(60))  # resource_code#row_no
    resource_code: Mapped[str] = mapped_column(String(40), index=True)
    row_no: Mapped[int]
    unit_code: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(ForeignKey("baselib_entities.id"), index=True)
    # the strongest scored pair joining this row to another of its entity (none: alone or
    # joined by a steward's confirmation)
    partner_uid: Mapped[str] = mapped_column(String(60), default="")
    probability: Mapped[float | None] = mapped_column(Float)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    levels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    run_id: Mapped[int] = mapped_column(ForeignKey("baselib_runs.id"))
    # what an incremental link needs without reading every source again: the row's content
    # hash (an unchanged row is not linked again, a moved one keeps its file), its values as
    # read (field → value) and as prepared for the model
    fingerprint: Mapped[str] = mapped_column(String(40), default="")
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prepared: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class RecordKey(IdMixin, Base):
    """A linked record's blocking keys (one per equality of the blocking rules, e.g. its
    18-digit ID, its name's pinyin with its birth date) and its name for term frequencies: the
    index an incremental link finds the existing records to compare new rows with."""

    __tablename__ = "baselib_record_keys"
    __table_args__ = (Index("ix_baselib_record_keys_kind_key", "kind", "key"),)

    kind: Mapped[str] = mapped_column(String(12))
    key: Mapped[str] = mapped_column(String(120))
    record_uid: Mapped[str] = mapped_column(String(60), index=True)


class GoldenField(IdMixin, Base):
    """One field of a file: the value chosen (the authoritative unit's, else the latest), where
    it came from, and the other values the sources hold."""

    __tablename__ = "baselib_golden_fields"
    __table_args__ = (UniqueConstraint("entity_id", "field"),)

    entity_id: Mapped[int] = mapped_column(ForeignKey("baselib_entities.id"))
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    resource_code: Mapped[str] = mapped_column(String(40))
    item: Mapped[str] = mapped_column(String(100))
    row_no: Mapped[int]
    unit_code: Mapped[str] = mapped_column(String(40))
    observed_at: Mapped[datetime | None]
    authoritative: Mapped[bool] = mapped_column(default=False)
    # [{resource_code, item, row_no, unit_code}]: every row holding the chosen value (a reader
    # granted any of them may read it)
    sources: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    # [{value, resource_code, item, unit_code, observed_at}] differing from the chosen value
    alternatives: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    dispute_number: Mapped[str] = mapped_column(String(20), default="")


class ReviewItem(IdMixin, TimestampMixin, Base):
    """A pair the model is unsure of (between the review and match thresholds), for a steward
    to confirm (the same) or split (not the same). Decisions bind every later run."""

    __tablename__ = "baselib_reviews"
    __table_args__ = (
        UniqueConstraint("kind", "left_uid", "right_uid"),
        Index("ix_baselib_reviews_kind_status", "kind", "status"),
    )

    kind: Mapped[str] = mapped_column(String(12))
    left_uid: Mapped[str] = mapped_column(String(60))
    right_uid: Mapped[str] = mapped_column(String(60))
    probability: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    weights: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    levels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open, confirmed, split
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[datetime | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    run_id: Mapped[int] = mapped_column(ForeignKey("baselib_runs.id"))


class ThemeLibrary(IdMixin, TimestampMixin, Base):
    """A theme library (主题库): a governed data set derived from catalog resources and the base
    libraries' golden fields by a declarative definition, kept by its owner unit, rebuilt on a
    schedule, registered in the catalog as a resource of its own."""

    __tablename__ = "baselib_themes"

    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    owner_unit_code: Mapped[str] = mapped_column(String(40), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    refresh_hours: Mapped[int] = mapped_column(default=24)
    resource_code: Mapped[str] = mapped_column(String(40), default="", index=True)
    # the highest grade of its sources, and a steward's lower one with the reason (if reviewed)
    source_grade: Mapped[str] = mapped_column(String(20), default="")
    reviewed_grade: Mapped[str] = mapped_column(String(20), default="")
    review_reason: Mapped[str] = mapped_column(Text, default="")
    quality_score: Mapped[float | None] = mapped_column(Float)
    rows: Mapped[int] = mapped_column(default=0)
    last_built_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None] = mapped_column(index=True)
    # a scheduled refresh acts with the rights of whoever last built it by hand
    built_by: Mapped[str] = mapped_column(String(100), default="")


class ThemeBuild(IdMixin, Base):
    """One build of a theme library: what it read (each source with its traced read), what it
    made, the grade and quality score it came out with; or why it failed."""

    __tablename__ = "baselib_theme_builds"

    theme_id: Mapped[int] = mapped_column(ForeignKey("baselib_themes.id"), index=True)
    version: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    built_by: Mapped[str] = mapped_column(String(100))
    scheduled: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(12), default="ok")  # ok, failed
    rows: Mapped[int] = mapped_column(default=0)
    # [{alias, resource_code | library, unit_code, rows, legal_basis, access_id, level}]
    sources: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    grade: Mapped[str] = mapped_column(String(20), default="")
    quality_score: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text, default="")
