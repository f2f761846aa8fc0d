"""Device types and devices: registered one by one or in bulk from CSV (all or nothing, problems
by row), each device with a credential shown once, online while it has been heard from within
its type's ``offline_after_minutes``; readings checked against the type."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.geo import wgs84_to_gcj02
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.tables import csv_records
from citybase.perception.devices import repository
from citybase.perception.devices.auth import DEVICES_MANAGE
from citybase.perception.devices.models import Device, DeviceType
from citybase.perception.devices.schemas import (
    AttrType,
    DeviceCreated,
    DeviceIn,
    DeviceRead,
    DeviceTypeIn,
    DeviceTypeRead,
    ImportProblem,
    ImportReport,
)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- types ----------------------------------------------------------------------------------------


def put_type(session: Session, actor: Actor, data: DeviceTypeIn) -> DeviceTypeRead:
    found = repository.type_by_code(session, data.code) or DeviceType(code=data.code)
    found.name, found.description = data.name, data.description
    found.attributes = [a.model_dump(mode="json") for a in data.attributes]
    found.offline_after_minutes = data.offline_after_minutes
    repository.add(session, found)
    ledger.record(session, actor, "perception.type.put", object_type="device_type",
                  object_id=data.code)  # fmt: skip
    return DeviceTypeRead.model_validate(found)


def types(session: Session) -> list[DeviceTypeRead]:
    return [DeviceTypeRead.model_validate(t) for t in repository.types(session)]


def get_type(session: Session, code: str) -> DeviceTypeRead:
    found = repository.type_by_code(session, code)
    if found is None:
        raise NotFound(f"no device type {code}", field="type_code")
    return DeviceTypeRead.model_validate(found)


# --- devices --------------------------------------------------------------------------------------


def _read(device: Device, type_code: str, offline_after: int, now: datetime) -> DeviceRead:
    online = device.last_seen_at is not None and device.active and (
        now - device.last_seen_at <= timedelta(minutes=offline_after))  # fmt: skip
    gcj = wgs84_to_gcj02(device.lon, device.lat) if device.lon is not None and \
        device.lat is not None else None  # fmt: skip
    return DeviceRead(
        device_id=device.device_id, name=device.name, type_code=type_code,
        owner_unit=device.owner_unit, lon=device.lon, lat=device.lat,
        gcj02=(round(gcj[0], 7), round(gcj[1], 7)) if gcj else None,
        region_code=device.region_code, address=device.address, protocol=device.protocol,
        active=device.active, last_seen_at=device.last_seen_at, online=online,
    )  # fmt: skip


def _reads(session: Session, devices: Iterable[Device]) -> list[DeviceRead]:
    kinds = {t.id: t for t in repository.types(session)}
    now = datetime.now(UTC)
    return [_read(d, kinds[d.type_id].code, kinds[d.type_id].offline_after_minutes, now)
            for d in devices]  # fmt: skip


def devices(session: Session, owner: str | None = None) -> list[DeviceRead]:
    return _reads(session, repository.devices(session, owner))


def get_device(session: Session, device_id: str) -> DeviceRead:
    found = repository.by_id(session, device_id)
    if found is None:
        raise NotFound(f"no device {device_id}", field="device_id")
    return _reads(session, [found])[0]


def _may_manage(principal: Principal, owner: str) -> None:
    if "*" in principal.permissions:
        return
    if not principal.can(DEVICES_MANAGE) or owner != principal.unit_code:
        raise Forbidden(f"devices of {owner or '(no unit)'} are registered by that unit",
                        field="owner_unit")  # fmt: skip


def _check(session: Session, data: DeviceIn) -> DeviceType:
    kind = repository.type_by_code(session, data.type_code)
    if kind is None:
        raise InvalidInput(f"no device type {data.type_code}", field="type_code")
    if data.owner_unit:
        try:
            orgs.get_unit(session, data.owner_unit)
        except NotFound:
            raise InvalidInput(f"no unit with code {data.owner_unit}", field="owner_unit") from None
    if data.region_code:
        try:
            orgs.get_region(session, data.region_code)
        except NotFound:
            raise InvalidInput(f"no region with code {data.region_code}",
                               field="region_code") from None  # fmt: skip
    return kind


def put_device(
    session: Session, principal: Principal | None, actor: Actor, data: DeviceIn
) -> DeviceCreated | DeviceRead:
    """Register a device (answering its new credential, once) or change one."""
    if principal is not None:
        _may_manage(principal, data.owner_unit)
    kind = _check(session, data)
    found = repository.by_id(session, data.device_id)
    secret = None
    if found is None:
        secret = f"dev_{secrets.token_urlsafe(24)}"
        found = Device(device_id=data.device_id, secret_hash=_hash(secret))
    elif principal is not None:
        _may_manage(principal, found.owner_unit)
    for key in ("name", "owner_unit", "lon", "lat", "region_code", "address", "active"):
        setattr(found, key, getattr(data, key))
    found.type_id, found.protocol = kind.id, str(data.protocol)
    repository.add(session, found)
    ledger.record(session, actor, "perception.device.put", object_type="device",
                  object_id=data.device_id, details={"type": data.type_code,
                                                     "owner": data.owner_unit})  # fmt: skip
    read = _reads(session, [found])[0]
    return DeviceCreated(**read.model_dump(), secret=secret) if secret else read


HEADERS = {
    "device_id": "device_id", "设备编号": "device_id", "name": "name", "名称": "name",
    "type": "type_code", "type_code": "type_code", "设备类型": "type_code",
    "owner": "owner_unit", "owner_unit": "owner_unit", "权属单位": "owner_unit",
    "lon": "lon", "经度": "lon", "lat": "lat", "纬度": "lat", "region": "region_code",
    "region_code": "region_code", "区划": "region_code", "address": "address", "地址": "address",
    "protocol": "protocol", "协议": "protocol",
}  # fmt: skip


def import_csv(
    session: Session, principal: Principal | None, actor: Actor, content: bytes
) -> ImportReport:
    """Devices from CSV (English or Chinese headers): every row registered or changed, or — with
    any problem — none, each problem named by its row (the header is row 1)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ImportReport(problems=[ImportProblem(row=1, field="", message="not UTF-8 text")])
    fieldnames, records = csv_records(text)
    unknown = [h for h in fieldnames if h.strip() not in HEADERS]
    if not fieldnames or unknown:
        return ImportReport(problems=[ImportProblem(row=1, field=", ".join(unknown), message=(
            f"unknown columns; use {', '.join(sorted(set(HEADERS)))}"))])  # fmt: skip
    report = ImportReport()
    good: list[tuple[int, DeviceIn]] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(records, start=2):
        values: dict[str, Any] = {HEADERS[k.strip()]: (v or "").strip() for k, v in row.items()
                                  if k is not None}  # fmt: skip
        for key in ("lon", "lat"):
            values[key] = values.get(key) or None
        try:
            data = DeviceIn.model_validate({k: v for k, v in values.items() if v != ""})
            _check(session, data)
            if principal is not None:
                _may_manage(principal, data.owner_unit)
        except ValidationError as exc:
            report.problems += [ImportProblem(row=n, field=".".join(map(str, e["loc"])),
                                              message=e["msg"]) for e in exc.errors()]  # fmt: skip
            continue
        except (InvalidInput, Forbidden) as exc:
            report.problems.append(ImportProblem(row=n, field=exc.field or "", message=exc.message))
            continue
        if data.device_id in seen:
            report.problems.append(ImportProblem(row=n, field="device_id", message=(
                f"{data.device_id} is already on row {seen[data.device_id]}")))  # fmt: skip
            continue
        seen[data.device_id] = n
        good.append((n, data))
    if report.problems:
        return report
    for _, data in good:
        result = put_device(session, principal, actor, data)
        if isinstance(result, DeviceCreated):
            report.created += 1
            report.secrets[data.device_id] = result.secret
        else:
            report.updated += 1
    return report


def check_secret(session: Session, device_id: str, secret: str) -> None:
    found = repository.by_id(session, device_id)
    if found is None or not found.active or not hmac.compare_digest(found.secret_hash,
                                                                    _hash(secret)):  # fmt: skip
        raise Forbidden("unknown device or wrong credential", field="X-Device-Secret")


# --- readings against their types -----------------------------------------------------------------


_NUMBER, _BOOLEAN, _TEXT = 0, 1, 2
_KINDS = {AttrType.number: _NUMBER, AttrType.boolean: _BOOLEAN, AttrType.text: _TEXT}


class Catalog:
    """What each device may report, looked up once for a batch of readings (each type's checks
    made once into plain tuples: this runs for every reading)."""

    def __init__(self, session: Session, device_ids: Iterable[str]) -> None:
        found = repository.states(session, set(device_ids))
        kinds = {t.id: t for t in repository.types(session)}
        self._owner = {d: owner for d, _, _, owner in found}
        self._active = {d: active for d, _, active, _ in found}
        self.specs = {d: {a["name"]: a for a in kinds[t].attributes} for d, t, _, _ in found}
        checks = {t: {a["name"]: (_KINDS[AttrType(a.get("type", "number"))],
                                  -math.inf if a.get("min") is None else a["min"],
                                  math.inf if a.get("max") is None else a["max"])
                      for a in kind.attributes} for t, kind in kinds.items()}  # fmt: skip
        self._checks = {d: checks[t] for d, t, _, _ in found}

    def owner(self, device_id: str) -> str | None:
        return self._owner.get(device_id)

    def problem(self, device_id: str, values: dict[str, Any]) -> str | None:
        """Why a reading of these values from this device is refused (None: it is fine)."""
        checks = self._checks.get(device_id)
        if checks is None:
            return f"unknown device {device_id}"
        if not self._active[device_id]:
            return f"device {device_id} is retired"
        if not values:
            return "no values"
        for name, value in values.items():
            check = checks.get(name)
            if check is None:
                return f"{name}: not an attribute of this device's type ({', '.join(checks)})"
            kind, low, high = check
            if kind == _NUMBER:
                if type(value) not in (int, float) or not math.isfinite(value):
                    return f"{name}: a number is expected, not {value!r}"
                if value < low or value > high:
                    return f"{name}: {value} is outside the valid range [{_bound(low)}, " \
                           f"{_bound(high)}]"  # fmt: skip
            elif kind == _BOOLEAN and type(value) is not bool:
                return f"{name}: true or false is expected, not {value!r}"
            elif kind == _TEXT and type(value) is not str:
                return f"{name}: text is expected, not {value!r}"
        return None


def _bound(limit: float) -> float | None:
    return None if math.isinf(limit) else float(limit)


def seen(session: Session, last_seen: dict[str, datetime]) -> None:
    repository.seen(session, last_seen)


def type_codes(session: Session, device_ids: Iterable[str]) -> dict[str, str]:
    kinds = {t.id: t.code for t in repository.types(session)}
    return {d.device_id: kinds[d.type_id] for d in repository.by_ids(session, device_ids)}


def watched_by(session: Session, device_id: str, type_code: str) -> list[DeviceRead]:
    """The active devices a rule watches: the one named, or every one of the type."""
    if device_id:
        found = repository.by_id(session, device_id)
        chosen = [found] if found is not None else []
    else:
        kind = repository.type_by_code(session, type_code)
        chosen = [d for d in repository.devices(session) if kind is not None and
                  d.type_id == kind.id]  # fmt: skip
    return [d for d in _reads(session, [c for c in chosen if c.active])]
