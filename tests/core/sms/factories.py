"""Test doubles of the SMS gateway."""

from __future__ import annotations

from citybase.core.sms.service import SmsNotSent


class RecordingGateway:
    """Takes every message and keeps it, as a real SMS platform would answer 200."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))


class DownGateway:
    """An SMS platform that does not answer."""

    name = "down"

    def send(self, phone: str, text: str) -> None:
        raise SmsNotSent("the SMS platform answered 503")
