from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class RuleKind(StrEnum):
    threshold = "threshold"  # value beyond a limit for a duration
    rate = "rate"  # change faster than allowed
    silence = "silence"  # no reading for N minutes
    geofence = "geofence"  # a moving device inside/outside a circle
    anomaly = "anomaly"  # the streaming detector's score


class RuleIn(BaseModel):
    """A rule as its keeper writes it. ``params`` by kind:
    threshold ``{"op": ">", "limit": 3.0, "for_minutes": 10}``; rate ``{"max_change": 0.3,
    "per_minutes": 10}``; silence ``{"minutes": 30}``; geofence ``{"lon": …, "lat": …,
    "radius_m": 500, "inside": false}`` (alarm when outside); anomaly ``{"score": 0.55}`` (the detector's
    score in [0, 1] at or above which it alarms; 0.55 when not named)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: RuleKind
    type_code: str = Field("", description="Every device of this type…")
    device_id: str = Field("", description="…or this one device")
    attr: str = Field("", description="The attribute judged (not for silence)")
    params: dict[str, Any] = Field(default_factory=dict)
    level: Literal["warning", "critical"] = "warning"
    alarm_kind: str = Field("", max_length=40, description="water_level, smoke… for the hub")
    active: bool = True

    @model_validator(mode="after")
    def _check(self) -> RuleIn:
        if bool(self.type_code) == bool(self.device_id):
            raise ValueError("name a device type or one device (not both)")
        p = self.params
        need = {RuleKind.threshold: {"op", "limit"}, RuleKind.rate: {"max_change"},
                RuleKind.silence: {"minutes"}, RuleKind.geofence: {"lon", "lat", "radius_m"},
                RuleKind.anomaly: set()}[self.kind]  # fmt: skip
        missing = sorted(need - p.keys())
        if missing:
            raise ValueError(f"a {self.kind} rule needs params {', '.join(missing)}")
        if self.kind == RuleKind.threshold and p["op"] not in (">", "<", ">=", "<="):
            raise ValueError("op is one of > < >= <=")
        numbers = [k for k in ("limit", "for_minutes", "max_change", "per_minutes", "minutes",
                               "lon", "lat", "radius_m", "score") if k in p]  # fmt: skip
        bad = [k for k in numbers if isinstance(p[k], bool) or not isinstance(p[k], int | float)]
        if bad:
            raise ValueError(f"params {', '.join(bad)} must be numbers")
        if self.kind == RuleKind.anomaly and "score" in p and not 0 < p["score"] <= 1:
            raise ValueError("an anomaly rule's score is above 0 and at most 1")
        if self.kind != RuleKind.silence and not self.attr and self.kind != RuleKind.geofence:
            raise ValueError(f"a {self.kind} rule judges one attribute: give attr")
        return self


class RuleRead(RuleIn):
    model_config = ConfigDict(from_attributes=True, extra="ignore")

    id: int


class AlarmRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: int
    device_id: str
    attr: str
    level: str
    kind: str
    message: str
    value: float | None
    opened_at: datetime
    closed_at: datetime | None


class ForecastStep(BaseModel):
    ts: datetime
    value: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class ForecastRead(BaseModel):
    device_id: str
    attr: str
    method: str = Field(
        description="week, day or tide (a season back: damped correction, "
        "uncorrected, or averaged over seasons) or holt"
    )
    backtest_mae: float | None = Field(description="Its mean absolute error over the last day's "
                                       "origins, all horizons")  # fmt: skip
    steps: list[ForecastStep]
    expected: list[ForecastStep] = Field(
        default_factory=list,
        description="The band expected of the recent readings: at each 5-minute step, what the "
        "method forecast an hour before it, with that horizon's intervals",
    )
