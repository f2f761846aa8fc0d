"""Device types and devices: registered one by one or in bulk from CSV (all or nothing, problems
by row), each device with a credential shown once, online while it has been heard from within
its type's ``offline_after_minutes``; readings checked against the type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import signal
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pydantic import ValidationError
from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.geo import wgs84_to_gcj02
from citybase.core.identity.schemas import Principal
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings
from citybase.core.tables import csv_records
from citybase.perception.devices import repository
from citybase.perception.devices.models import Device, DeviceType
from citybase.perception.devices.schemas import (
    AttrType,
    BrokerFiles,
    DeviceChanged,
    DeviceCreated,
    DeviceIn,
    DeviceRead,
    DeviceTypeIn,
    DeviceTypeRead,
    ImportProblem,
    ImportReport,
)

log = logging.getLogger(__name__)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def broker_hash(secret: str, *, salt: bytes | None = None, iterations: int = 101) -> str:
    """A credential as Mosquitto's ``mosquitto_passwd`` writes it (format 7: PBKDF2-HMAC-SHA512,
    a 12-byte salt, 101 rounds, the 64-byte key; salt and key in base64)."""
    salt = salt if salt is not None else secrets.token_bytes(12)
    key = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def check_broker_hash(secret: str, stored: str) -> bool:
    """Whether ``secret`` is the credential of a ``$7$`` line (as the broker would judge it)."""
    try:
        _, seven, rounds, salt, key = stored.split("$")
        if seven != "7":
            return False
        found = hashlib.pbkdf2_hmac("sha512", secret.encode(), base64.b64decode(salt),
                                    int(rounds), 64)  # fmt: skip
    except ValueError:
        return False
    return hmac.compare_digest(found, base64.b64decode(key))


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


def devices(session: Session, owner: str | None = None, within: str = "") -> list[DeviceRead]:
    """The devices (of one owner unit; standing in a region or any region below it)."""
    regions = orgs.descendant_codes(session, within) if within else None
    return _reads(session, repository.devices(session, owner, regions))


def get_device(session: Session, device_id: str) -> DeviceRead:
    found = repository.by_id(session, device_id)
    if found is None:
        raise NotFound(f"no device {device_id}", field="device_id")
    return _reads(session, [found])[0]


def _may_manage(principal: Principal, owner: str) -> None:
    if "*" in principal.permissions:
        return
    from citybase.perception.devices.auth import DEVICES_MANAGE  # the web's: not at start

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
        found = Device(device_id=data.device_id, secret_hash=_hash(secret),
                       broker_hash=broker_hash(secret))  # fmt: skip
    elif principal is not None:
        _may_manage(principal, found.owner_unit)
    for key in ("name", "owner_unit", "lon", "lat", "region_code", "address", "active"):
        setattr(found, key, getattr(data, key))
    found.type_id, found.protocol = kind.id, str(data.protocol)
    repository.add(session, found)
    ledger.record(session, actor, "perception.device.put", object_type="device",
                  object_id=data.device_id, details={"type": data.type_code,
                                                     "owner": data.owner_unit})  # fmt: skip
    bus.publish(session, DeviceChanged(device_id=data.device_id, active=data.active,
                                       created=secret is not None))  # fmt: skip
    read = _reads(session, [found])[0]
    return DeviceCreated(**read.model_dump(), secret=secret) if secret else read


def renew_secret(
    session: Session, principal: Principal | None, actor: Actor, device_id: str
) -> DeviceCreated:
    """Give a device a new credential (shown once; the old one stops working, over HTTP and, once
    the broker's files are written again, over MQTT). Devices registered before the broker's
    copy of credentials was kept get theirs this way."""
    found = repository.by_id(session, device_id)
    if found is None:
        raise NotFound(f"no device {device_id}", field="device_id")
    if principal is not None:
        _may_manage(principal, found.owner_unit)
    secret = f"dev_{secrets.token_urlsafe(24)}"
    found.secret_hash, found.broker_hash = _hash(secret), broker_hash(secret)
    repository.add(session, found)
    ledger.record(session, actor, "perception.device.secret", object_type="device",
                  object_id=device_id)  # fmt: skip
    bus.publish(session, DeviceChanged(device_id=device_id, active=found.active, created=False))
    return DeviceCreated(**_reads(session, [found])[0].model_dump(), secret=secret)


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
MAX_TEXT = 500  # what a reading's text column holds
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
                if type(value) not in (int, float) or not _finite(value):
                    return f"{name}: a number is expected, not {_show(value)}"
                if value < low or value > high:
                    return f"{name}: {value} is outside the valid range [{_bound(low)}, " \
                           f"{_bound(high)}]"  # fmt: skip
            elif kind == _BOOLEAN and type(value) is not bool:
                return f"{name}: true or false is expected, not {_show(value)}"
            elif kind == _TEXT:
                if type(value) is not str:
                    return f"{name}: text is expected, not {_show(value)}"
                if len(value) > MAX_TEXT:
                    return f"{name}: text longer than {MAX_TEXT} characters"
                if "\x00" in value:
                    return f"{name}: text with a NUL character is not expected"
        return None


def _show(value: Any) -> str:
    try:
        shown = repr(value)
    except ValueError:  # an integer of more digits than Python prints
        return f"a {type(value).__name__}"
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _bound(limit: float) -> float | None:
    return None if math.isinf(limit) else float(limit)


def seen(session: Session, last_seen: dict[str, datetime]) -> None:
    repository.seen(session, last_seen)


def type_codes(session: Session, device_ids: Iterable[str]) -> dict[str, str]:
    kinds = {t.id: t.code for t in repository.types(session)}
    return {d: kinds[t] for d, t in repository.type_ids(session, device_ids).items()}


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


# --- the broker's credentials and topic rights ----------------------------------------------------

# what a Mosquitto user name and one level of a topic can hold (no ':' in a password file's name,
# no wildcard or separator in a topic level)
_BROKER_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


def _topic(scheme: str, device_id: str) -> str:
    return scheme.replace("{device_id}", device_id)


def broker_files(
    session: Session,
    topic_schemes: list[str],
    ingestor_user: str = "",
    ingestor_password: str = "",
) -> BrokerFiles:
    """Mosquitto's password file (``mosquitto_passwd`` format) and ACL file for the device
    register: each active device with a broker credential logs in as its id and may write only
    its own topics; the ingestor (if named) may read every device's. Devices left out are
    named, with why."""
    passwords: list[str] = []
    acl = ["# written by citybase from the device register: do not edit by hand", ""]
    left_out: dict[str, str] = {}
    if ingestor_user:
        passwords.append(f"{ingestor_user}:{broker_hash(ingestor_password)}")
        acl.append(f"user {ingestor_user}")
        acl += [f"topic read {_topic(s, '+')}" for s in topic_schemes]
        acl.append("")
    for device in repository.devices(session):
        if not device.active:
            left_out[device.device_id] = "retired"
        elif not _BROKER_SAFE.match(device.device_id) or device.device_id == ingestor_user:
            left_out[device.device_id] = "its id cannot be a broker user name and topic level"
        elif not device.broker_hash:
            left_out[device.device_id] = "no broker credential yet: renew its credential"
        else:
            passwords.append(f"{device.device_id}:{device.broker_hash}")
            acl.append(f"user {device.device_id}")
            acl += [f"topic write {_topic(s, device.device_id)}" for s in topic_schemes]
            acl.append("")
    return BrokerFiles(passwords="\n".join(passwords) + "\n", acl="\n".join(acl),
                       devices=len(passwords) - bool(ingestor_user), left_out=left_out)  # fmt: skip


def _write(path: Path, text: str) -> None:
    """Replace a file whole (a broker reading it meanwhile sees the old one or the new one)."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(0o640)
    os.replace(partial, path)


def write_broker_files(session: Session, settings: Settings, directory: Path) -> BrokerFiles:
    """Write ``passwd`` and ``acl`` for Mosquitto into ``directory`` from the device register
    (the ingestor's user and password from ``perception.mqtt_url``), and send the broker SIGHUP
    if its pid file is set, so that it reads them again."""
    url = urlparse(settings.perception.mqtt_url)
    files = broker_files(session, [settings.perception.json_topic, settings.perception.ul_topic],
                         unquote(url.username or ""), unquote(url.password or ""))  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "passwd", files.passwords)
    _write(directory / "acl", files.acl)
    pid_file = settings.perception.mqtt_broker_pid_file
    if pid_file:
        try:
            os.kill(int(Path(pid_file).read_text().strip()), signal.SIGHUP)
        except (OSError, ValueError) as exc:
            log.warning("the broker could not be told to read its files again (%s): %s",
                        pid_file, exc)  # fmt: skip
    return files


def connected_count(session: Session, until: datetime) -> int:
    """IoT terminals connected (物联网终端接入数): active devices registered before ``until``
    that have reported at least once."""
    return repository.connected(session, until)
