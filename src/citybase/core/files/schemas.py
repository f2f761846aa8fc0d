from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# the kinds whose picture the platform can draw smaller (Pillow reads them)
PREVIEWABLE = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


class FileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    media_type: str = Field(description="Read from the file's own bytes")
    size: int = Field(description="Bytes")
    sha256: str
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = Field(None, description="When a photo says it was taken (EXIF)")
    lon: float | None = Field(None, description="Where a photo says it was taken (EXIF GPS)")
    lat: float | None = None
    created_at: datetime
    created_by: str

    @property
    def is_image(self) -> bool:
        return self.media_type in PREVIEWABLE
