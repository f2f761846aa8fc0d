from __future__ import annotations

from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, IdMixin, JSONType, TimestampMixin


class KnowledgeAnswer(IdMixin, TimestampMixin, Base):
    """A standard answer (知识库条目) the operators give on the spot: the question as citizens ask
    it, the answer, and who stands behind it."""

    __tablename__ = "hotline_knowledge"

    title: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    category_code: Mapped[str] = mapped_column(String(12), default="")
    unit_code: Mapped[str] = mapped_column(String(40), default="")
    source: Mapped[str] = mapped_column(String(300), default="", doc="Policy or notice it rests on")
    active: Mapped[bool] = mapped_column(default=True)
    uses: Mapped[int] = mapped_column(default=0)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
