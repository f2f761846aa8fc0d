"""Pictures made for tests, with the EXIF a phone writes."""

from __future__ import annotations

import io


def photo(
    size: tuple[int, int] = (800, 600),
    *,
    lon: float | None = None,
    lat: float | None = None,
    taken: str = "",
    offset: str = "",
    orientation: int = 0,
    kind: str = "JPEG",
    colour: tuple[int, int, int] = (200, 100, 50),
) -> bytes:
    from PIL import Image

    image = Image.new("RGB", size, colour)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if lon is not None and lat is not None:
        exif[0x8825] = {1: "N" if lat >= 0 else "S", 2: _dms(abs(lat)),
                        3: "E" if lon >= 0 else "W", 4: _dms(abs(lon))}  # fmt: skip
    if taken:
        exif[0x8769] = {0x9003: taken, **({0x9011: offset} if offset else {})}
    out = io.BytesIO()
    image.save(out, kind, exif=exif)
    return out.getvalue()


def _dms(degrees: float) -> tuple[float, float, float]:
    d = int(degrees)
    m = int((degrees - d) * 60)
    return (float(d), float(m), round((degrees - d - m / 60) * 3600, 4))
