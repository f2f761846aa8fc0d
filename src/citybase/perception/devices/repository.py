from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from citybase.perception.devices.models import Device, DeviceType


def add(session: Session, obj: object) -> None:
    session.add(obj)
    session.flush()


def types(session: Session) -> list[DeviceType]:
    return list(session.scalars(select(DeviceType).order_by(DeviceType.code)))


def type_by_code(session: Session, code: str) -> DeviceType | None:
    return session.scalar(select(DeviceType).where(DeviceType.code == code))


def devices(
    session: Session, owner: str | None = None, regions: set[str] | None = None
) -> list[Device]:
    query = select(Device).order_by(Device.device_id)
    if owner is not None:
        query = query.where(Device.owner_unit == owner)
    if regions is not None:
        query = query.where(Device.region_code.in_(sorted(regions)))
    return list(session.scalars(query))


def by_id(session: Session, device_id: str) -> Device | None:
    return session.scalar(select(Device).where(Device.device_id == device_id))


def states(session: Session, ids: Iterable[str]) -> list[tuple[str, int, bool, str]]:
    """(device id, type id, active, owner unit) of these devices, without loading them."""
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        select(Device.device_id, Device.type_id, Device.active, Device.owner_unit).where(
            Device.device_id.in_(list(ids))))]  # fmt: skip


def by_ids(session: Session, ids: Iterable[str]) -> list[Device]:
    return list(session.scalars(select(Device).where(Device.device_id.in_(list(ids)))))


def type_ids(session: Session, ids: Iterable[str]) -> dict[str, int]:
    """Each device's type id, read as two columns rather than whole devices."""
    query = select(Device.device_id, Device.type_id).where(Device.device_id.in_(list(ids)))
    return {device_id: type_id for device_id, type_id in session.execute(query)}


def seen(session: Session, last_seen: dict[str, datetime]) -> None:
    """Move devices' last-seen times forward (never back), in one statement for them all."""
    if not last_seen:
        return
    table = Device.__table__
    assert isinstance(table, Table)
    statement = update(table).where(
        table.c.device_id == bindparam("d"),
        (table.c.last_seen_at.is_(None)) | (table.c.last_seen_at < bindparam("at")),
    ).values(last_seen_at=bindparam("at"))  # fmt: skip
    session.connection().execute(statement, [{"d": d, "at": at} for d, at in last_seen.items()])


def connected(session: Session, until: datetime) -> int:
    """Active devices registered before ``until`` that have sent at least one reading."""
    query = (
        select(func.count())
        .select_from(Device)
        .where(Device.active.is_(True), Device.created_at < until, Device.last_seen_at.is_not(None))
    )
    return int(session.scalar(query) or 0)
