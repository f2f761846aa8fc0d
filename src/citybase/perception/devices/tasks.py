"""Devices' background work: the broker's password and ACL files written again when the device
register changes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from citybase.core.bus import service as bus
from citybase.core.bus.schemas import EventEnvelope
from citybase.core.bus.service import JobContext, job
from citybase.perception.devices import service
from citybase.perception.devices.schemas import DeviceChanged

BROKER_FILES = "perception.devices.broker_files"


@bus.consumer("perception.devices.broker_files", DeviceChanged.topic)
def device_changed(session: Session, envelope: EventEnvelope) -> None:
    """One job for any number of changes: scheduling it again only moves it to now."""
    bus.schedule(session, BROKER_FILES, key=BROKER_FILES)


@job(BROKER_FILES)
def write_broker_files(ctx: JobContext) -> None:
    if ctx.settings.perception.mqtt_acl_dir:
        service.write_broker_files(ctx.session, ctx.settings,
                                   Path(ctx.settings.perception.mqtt_acl_dir))  # fmt: skip
