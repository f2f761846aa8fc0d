from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class HotSpotRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    category_code: str
    district_code: str
    day: str
    count: int
    baseline: float
    window_hours: int
    raised_at: datetime
    case_number: str
