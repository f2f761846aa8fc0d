"""How readings are written on the wire. Each protocol turns one message (a topic and a payload)
into readings, or says why it cannot; the ingestors do the rest the same way for all."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Protocol

from pydantic import ValidationError

from citybase.perception.telemetry.schemas import ReadingIn

MAX_DEVICE_ID = 100  # as the store keeps it


class Malformed(ValueError):
    """A message no reading can be made of; the reason says why, ``kind`` names the reason for
    counting, ``device_id`` is the device the topic names, when known."""

    def __init__(self, reason: str, kind: str = "malformed", device_id: str | None = None) -> None:
        super().__init__(reason)
        self.kind, self.device_id = kind, device_id


def _reading(device_id: str, ts: datetime | None, values: dict[str, Any]) -> ReadingIn:
    if len(device_id) > MAX_DEVICE_ID:
        raise Malformed(f"device id longer than {MAX_DEVICE_ID} characters", "device_id_too_long")
    try:
        return ReadingIn(device_id=device_id, ts=ts, values=values)
    except ValidationError as exc:
        raise Malformed(str(exc.errors()[0]["msg"]), device_id=device_id) from None


class PayloadProtocol(Protocol):
    name: str
    topic: str

    def parse(self, topic: str, payload: bytes) -> list[ReadingIn]: ...


def topic_pattern(scheme: str) -> tuple[str, re.Pattern[str]]:
    """A topic scheme with ``{device_id}`` → the MQTT subscription filter and the regex that
    takes the device id out of a topic."""
    if scheme.count("{device_id}") != 1:
        raise ValueError(f"a topic scheme holds {{device_id}} once: {scheme}")
    before, after = scheme.split("{device_id}")
    return before + "+" + after, re.compile("^" + re.escape(before) + "([^/]+)" +
                                            re.escape(after) + "$")  # fmt: skip


def _ts(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"not an ISO 8601 time: {str(value)[:60]!r}") from None


class JsonPayload:
    """``{"level": 2.1, "battery": 90, "ts": "2026-11-30T10:00:00+08:00"}`` — or several such
    objects in a list; ``ts`` may be left out (now)."""

    name = "mqtt-json"

    def __init__(self, scheme: str) -> None:
        self.topic, self._pattern = topic_pattern(scheme)

    def parse(self, topic: str, payload: bytes) -> list[ReadingIn]:
        match = self._pattern.match(topic)
        if match is None:
            raise Malformed(f"topic {topic} is not of the scheme")
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, ValueError) as exc:
            raise Malformed(f"not JSON: {exc}", device_id=match.group(1)) from None
        device_id = match.group(1)
        items = data if isinstance(data, list) else [data]
        out = []
        for item in items:
            if not isinstance(item, dict):
                raise Malformed("a reading is a JSON object of attribute: value",
                                device_id=device_id)  # fmt: skip
            # a payload naming its device names the topic's: a device writes its own readings
            named = item.get("device_id", device_id)
            if named != device_id:
                raise Malformed(f"the payload's device id {str(named)[:100]!r} is not the "
                                f"topic's {device_id}", "topic_mismatch", device_id)  # fmt: skip
            values = {k: v for k, v in item.items() if k not in ("ts", "TimeInstant", "device_id")}
            try:
                at = _ts(item.get("ts", item.get("TimeInstant")))
            except Malformed as exc:
                raise Malformed(str(exc), device_id=device_id) from None
            out.append(_reading(device_id, at, values))
        return out


class UltraLight:
    """UltraLight 2.0 (the FIWARE IoT agents' text format): ``level|2.1|battery|90``, several
    measures apart by ``#``; a ``TimeInstant`` (or ``t``) pair gives the time. Numbers become
    numbers, ``true``/``false`` booleans, the rest text."""

    name = "mqtt-ul"

    def __init__(self, scheme: str) -> None:
        self.topic, self._pattern = topic_pattern(scheme)

    @staticmethod
    def _value(raw: str) -> Any:
        if raw in ("true", "false"):
            return raw == "true"
        try:
            return float(raw)
        except ValueError:
            return raw

    def parse(self, topic: str, payload: bytes) -> list[ReadingIn]:
        match = self._pattern.match(topic)
        if match is None:
            raise Malformed(f"topic {topic} is not of the scheme")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise Malformed("not UTF-8 text", device_id=match.group(1)) from None
        out = []
        for measure in filter(None, text.split("#")):
            parts = measure.split("|")
            if len(parts) % 2 or not all(parts[0::2]):
                raise Malformed(f"UltraLight pairs key|value expected: {measure[:100]!r}",
                                device_id=match.group(1))  # fmt: skip
            pairs = dict(zip(parts[0::2], parts[1::2], strict=True))
            at = _ts(pairs.pop("TimeInstant", None) or pairs.pop("t", None))
            out.append(_reading(match.group(1), at,
                                {k: self._value(v) for k, v in pairs.items()}))  # fmt: skip
        if not out:
            raise Malformed("an empty message", device_id=match.group(1))
        return out
