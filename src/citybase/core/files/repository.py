from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.files.models import FileBlob, StoredFile


def get(session: Session, file_id: str) -> StoredFile | None:
    return session.get(StoredFile, file_id)


def many(session: Session, ids: list[str]) -> list[StoredFile]:
    return list(session.scalars(select(StoredFile).where(StoredFile.id.in_(ids))))


def add(session: Session, row: StoredFile) -> None:
    session.add(row)
    session.flush()


def blob(session: Session, key: str) -> bytes | None:
    found = session.get(FileBlob, key)
    return found.data if found else None


def put_blob(session: Session, key: str, data: bytes) -> None:
    if session.get(FileBlob, key) is None:
        session.add(FileBlob(key=key, data=data))
        session.flush()


def known_digests(session: Session, digests: list[str]) -> set[str]:
    return set(session.scalars(select(StoredFile.sha256).where(StoredFile.sha256.in_(digests))))
