from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class SmsMessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    phone: str
    text: str
    purpose: str
    gateway: str
    status: str  # queued, sent, failed
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None
