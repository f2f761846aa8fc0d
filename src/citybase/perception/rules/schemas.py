from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from citybase.core.bus.schemas import Event


class Alarm(Event):
    """A rule or the anomaly detector judged a device's readings to need a response; the city
    brain turns it into a case (merged with the open one while the device keeps alarming)."""

    topic: ClassVar[str] = "perception.alarm"

    device_id: str = Field(description="The device (or the series) that alarmed")
    kind: str = Field(description="water_level, rainfall, manhole, smoke, air_quality, traffic…")
    level: str = Field("warning", description="warning or critical")
    message: str = Field(description="What was judged, in words an operator reads")
    value: float | None = None
    lon: float | None = None
    lat: float | None = None
    region_code: str = Field("", description="Where the device stands, if known")
    address: str = ""
