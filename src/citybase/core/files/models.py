from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from citybase.core.db.base import Base, utcnow


class StoredFile(Base):
    """One upload: what it was called, what it really is (read from its bytes, not from what the
    sender claimed) and, for a photo, what its EXIF says of where and when it was taken. The
    bytes are kept once per content (``sha256``) in the configured store."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None]
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class FileBlob(Base):
    """A file's bytes, when the store is the database (``files.store = database``): every
    process of a cluster reads them without a shared disk."""

    __tablename__ = "file_blobs"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
