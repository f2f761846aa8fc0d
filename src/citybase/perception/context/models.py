from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, JSONType, utcnow


class ContextEntity(Base):
    """An entity in normalized form: its type and attribute names as IRIs, values as given."""

    __tablename__ = "perception_entities"
    # a type's entities in id order, read from the index: queries page them without sorting
    __table_args__ = (Index("ix_perception_entities_type_id", "type", "id"),)

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(512))  # its first type
    # every type, in the order given, when it has more than one (None: ``type`` alone); a query
    # by type reads ``EntityType``, which files each of them
    types: Mapped[list[str] | None] = mapped_column(JSONType, default=None, nullable=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # the owning unit's code: only it (or a platform administrator) changes the entity; a
    # device's entity is its device's unit's; "" is the platform's own
    unit: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class EntityType(Base):
    """One type of an entity, filed under the type: a query by type (or a reader's scope of
    public types) reads the entities of a type through this table's index, on SQLite and
    PostgreSQL alike; an entity of several types is filed under each."""

    __tablename__ = "perception_entity_types"
    __table_args__ = (Index("ix_perception_entity_types_type_entity", "type", "entity_id"),)

    entity_id: Mapped[str] = mapped_column(
        ForeignKey("perception_entities.id", ondelete="CASCADE"), primary_key=True
    )
    type: Mapped[str] = mapped_column(String(512), primary_key=True)


def type_list(entity: ContextEntity | EntityState) -> list[str]:
    """An entity's types: its first alone, or all of them."""
    return list(entity.types) if entity.types else [entity.type]


@dataclass(slots=True)
class EntityState:
    """An entity as a change left it, without the ORM's bookkeeping (batch writes use it)."""

    id: str
    type: str
    attrs: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    unit: str = ""
    types: list[str] | None = None


class StoredContext(Base):
    """A JSON-LD context document kept for its URL, so that no context is fetched at run time."""

    __tablename__ = "perception_contexts"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContextSubscription(Base):
    """An NGSI-LD subscription: what it watches and where it notifies, in its creator's terms
    (``body``) with the creator's contexts, and how its notifications went."""

    __tablename__ = "perception_subscriptions"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    owner: Mapped[str] = mapped_column(String(64), default="")  # the user who made it
    # the owning unit: only it (or a platform administrator) reads, changes or deletes it
    unit: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)
    active: Mapped[bool] = mapped_column(default=True)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    times_sent: Mapped[int] = mapped_column(default=0)
    times_failed: Mapped[int] = mapped_column(default=0)
    last_notification: Mapped[datetime | None] = mapped_column(default=None)
    last_success: Mapped[datetime | None] = mapped_column(default=None)
    last_failure: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContextSourceRegistration(Base):
    """An NGSI-LD context source registration (ETSI GS CIM 009, 5.2.9): what another broker
    (a district's, say) holds and where to ask for it, in its creator's terms (``body``) with
    the creator's contexts; distributed queries and retrievals forward to it."""

    __tablename__ = "perception_csource_registrations"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    context: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    owner: Mapped[str] = mapped_column(String(64), default="")  # the user who made it
    # the owning unit: only it (or a platform administrator) reads, changes or deletes it, and
    # what its sources answer is shown to those who may read that unit's entities
    unit: Mapped[str] = mapped_column(String(64), default="", server_default="", index=True)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class AttributeSeries(Base):
    """One attribute of one entity whose values over time are kept (the temporal API's key):
    one series per datasetId of the attribute ("" for the default instance)."""

    __tablename__ = "perception_attribute_series"
    __table_args__ = (UniqueConstraint("entity_id", "attr", "dataset_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entity_id: Mapped[str] = mapped_column(String(256), index=True)
    attr: Mapped[str] = mapped_column(String(512))
    entity_type: Mapped[str] = mapped_column(String(512), index=True)  # its entity's first
    # every type of an entity of several, in order (None: ``entity_type`` alone)
    entity_types: Mapped[list[str] | None] = mapped_column(JSONType, default=None, nullable=True)
    # the unit owning the entity when the series began: only it rewrites the history
    unit: Mapped[str] = mapped_column(String(64), default="", server_default="")
    dataset_id: Mapped[str] = mapped_column(String(256), default="", server_default="")


class AttributeInstance(Base):
    """One value an attribute had: when it was observed (or stored, if no time was given), its
    value or object, its kind and any other fields (unitCode, sub-attributes). Keyed by series
    and time — the same observation written twice is kept once — and, on SQLite, stored in that
    order (no rowid), so that a series' range is read from neighbouring pages."""

    __tablename__ = "perception_attribute_instances"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 -- SQLAlchemy's own dict

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    observed_at: Mapped[datetime] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="Property")
    value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    number: Mapped[float | None] = mapped_column(Float, default=None)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class EntityPlace(Base):
    """Where a GeoProperty of an entity lies: its bounding box, filed under the Z-order tile that
    holds it (``core.geo.zorder_key``), so that a geo-query reads the few entities near its
    geometry through one index instead of every entity of the type."""

    __tablename__ = "perception_entity_places"
    __table_args__ = (Index("ix_perception_entity_places_attr_zkey", "attr", "zkey"),)

    entity_id: Mapped[str] = mapped_column(
        ForeignKey("perception_entities.id", ondelete="CASCADE"), primary_key=True
    )
    attr: Mapped[str] = mapped_column(String(512), primary_key=True)
    zlevel: Mapped[int] = mapped_column(Integer)
    zkey: Mapped[int] = mapped_column(BigInteger)
    west: Mapped[float] = mapped_column(Float)
    south: Mapped[float] = mapped_column(Float)
    east: Mapped[float] = mapped_column(Float)
    north: Mapped[float] = mapped_column(Float)


class PendingNotification(Base):
    """A notification due to a subscriber and not yet delivered: written in the transaction of
    the change that caused it (or of the periodic round), removed once the subscriber took it;
    while it fails it waits ``next_attempt_at``. A process that stops before delivering leaves it
    here, and any process delivers it once ``locked_until`` (the lease of the process that made or
    claimed it) has passed. After the last attempt allowed it is kept, given up
    (``given_up_at``), until an operator sends it again or discards it."""

    __tablename__ = "perception_notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("perception_subscriptions.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    headers: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    given_up_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
