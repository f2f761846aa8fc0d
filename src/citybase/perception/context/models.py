from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, JSONType, utcnow


class ContextEntity(Base):
    """An entity in normalized form: its type and attribute names as IRIs, values as given."""

    __tablename__ = "perception_entities"

    id: Mapped[str] = mapped_column(String(256), primary_key=True)
    type: Mapped[str] = mapped_column(String(512), index=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class StoredContext(Base):
    """A JSON-LD context document kept for its URL, so that no context is fetched at run time."""

    __tablename__ = "perception_contexts"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
