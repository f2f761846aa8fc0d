"""Files kept by the platform: what people attach to what they report.

A file is taken only for what its own bytes show it to be (a photo, a PDF, a recording, a video
— never what the sender's name or content type claims), within the size and picture limits of
the settings. A photo is opened before it is kept: one that does not decode is refused, and what
its EXIF says of where and when it was taken is read out (a citizen's snapshot carries the
place), and a small preview is drawn without any of that metadata. The bytes are kept once per
content, under their SHA-256, either in a directory (``<home>/files``) or in the database (for a
cluster with no shared disk); a file is written before the transaction that names it commits, so
a transaction that fails leaves at most bytes no row names, never a row without its bytes;
``sweep`` removes such bytes from the directory once they are an hour old."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from fastapi.responses import Response
from sqlalchemy.orm import Session

from citybase.core.clock import CITY_TZ
from citybase.core.errors import InvalidInput, NotFound
from citybase.core.files import repository
from citybase.core.files.models import StoredFile
from citybase.core.files.schemas import PREVIEWABLE, FileRead
from citybase.core.settings import FilesSettings, Settings

PREVIEW_SIZE = 320  # pixels, the longer side
KINDS = "photos (JPEG, PNG, GIF, WebP, HEIC), PDF, audio (MP3, M4A, AMR, WAV) or video (MP4, MOV)"

# ISO base media files (MP4, MOV, M4A, HEIC) say what they are in their 'ftyp' box
_BRANDS = {
    b"heic": "image/heic", b"heix": "image/heic", b"mif1": "image/heif", b"msf1": "image/heif",
    b"M4A ": "audio/mp4", b"M4B ": "audio/mp4", b"qt  ": "video/quicktime",
}  # fmt: skip


def sniff(data: bytes) -> str | None:
    """The media type the bytes show, among those kept here; None for anything else."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"#!AMR"):
        return "audio/amr"
    frame = len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 != 0
    if head.startswith(b"ID3") or frame:  # a tag, or an MPEG audio frame's sync and layer
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        return _BRANDS.get(head[8:12], "video/mp4")
    return None


def clean_name(name: str, media_type: str) -> str:
    """The file's name as shown: its last path part, without control characters, at most 200
    characters, and ending as its kind does."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip(" .")
    ext = _EXTENSIONS.get(media_type, "")
    if not base:
        base = f"file{ext}"
    elif ext and not base.lower().endswith(_ALSO.get(media_type, (ext,))):
        base += ext
    if len(base) > 200:
        stem, dot, suffix = base.rpartition(".")
        base = (
            (stem[: 199 - len(suffix)] + dot + suffix) if dot and len(suffix) < 10 else base[:200]
        )
    return base


_EXTENSIONS = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
    "image/heic": ".heic", "image/heif": ".heif", "application/pdf": ".pdf",
    "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/amr": ".amr", "audio/wav": ".wav",
    "video/mp4": ".mp4", "video/quicktime": ".mov",
}  # fmt: skip
_ALSO = {"image/jpeg": (".jpg", ".jpeg"), "video/mp4": (".mp4", ".m4v")}


# --- where the bytes are kept --------------------------------------------------------------------


class Store(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class DirectoryStore:
    """``<root>/ab/abcdef…``: written to a temporary file and renamed, so a reader never sees
    half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None


class DatabaseStore:
    """In the ``file_blobs`` table, in the caller's transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, key: str, data: bytes) -> None:
        repository.put_blob(self.session, key, data)

    def get(self, key: str) -> bytes | None:
        return repository.blob(self.session, key)


def store_for(session: Session, settings: Settings) -> Store:
    if settings.files.store == "database":
        return DatabaseStore(session)
    return DirectoryStore(settings.home / "files")


# --- what a photo says ---------------------------------------------------------------------------


def _degrees(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    return -degrees if str(ref).strip().upper() in ("S", "W") else degrees


def _taken(exif: Any) -> datetime | None:
    sub = exif.get_ifd(0x8769)  # the Exif IFD
    raw = sub.get(0x9003) or exif.get(0x0132)  # DateTimeOriginal, else DateTime
    if not raw:
        return None
    try:
        local = datetime.strptime(str(raw).strip(), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    offset = str(sub.get(0x9011) or "")  # OffsetTimeOriginal, e.g. +08:00
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", offset)
    if match:
        sign = 1 if match[1] == "+" else -1
        tz: Any = timezone(sign * timedelta(hours=int(match[2]), minutes=int(match[3])))
    else:  # a camera's clock with no zone: the city's
        tz = CITY_TZ
    return local.replace(tzinfo=tz).astimezone(UTC)


def _picture(data: bytes, limits: FilesSettings) -> tuple[dict[str, Any], bytes]:
    """A photo's size, where and when its EXIF says it was taken, and its preview (JPEG or PNG,
    with no metadata); refused when it does not decode or is too large a picture."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise InvalidInput(f"the picture is {width}×{height}: at most "
                                   f"{limits.max_pixels:,} pixels are kept", field="file")  # fmt: skip
            image.load()
            facts: dict[str, Any] = {"width": width, "height": height}
            exif = image.getexif()
            if exif:
                facts["taken_at"] = _taken(exif)
                gps = exif.get_ifd(0x8825)
                lat, lon = _degrees(gps.get(2), gps.get(1)), _degrees(gps.get(4), gps.get(3))
                if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
                    if (lat, lon) != (0.0, 0.0):  # a phone without a fix writes zeros
                        facts["lat"], facts["lon"] = round(lat, 7), round(lon, 7)
            preview = ImageOps.exif_transpose(image)
            preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE))
            out = io.BytesIO()
            if preview.mode in ("RGBA", "LA", "P"):
                preview.save(out, "PNG", optimize=True)
            else:
                preview.convert("RGB").save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombError) as exc:  # fmt: skip
        raise InvalidInput(f"the picture cannot be read: {exc}", field="file") from None
    return facts, out.getvalue()


# --- keeping and reading -------------------------------------------------------------------------


def read_limit(settings: Settings) -> int:
    """How many bytes of an upload to read: one more than is kept, so that a larger one is
    refused for its size without being read whole into memory."""
    return int(settings.files.max_megabytes * 1_000_000) + 1


def keep(session: Session, settings: Settings, actor: str, name: str, data: bytes) -> FileRead:
    """Keep one upload; refused with the reason when it is empty, too large, of a kind not kept
    or a picture that does not decode."""
    limits = settings.files
    if not data:
        raise InvalidInput("the file is empty", field="file")
    if len(data) > limits.max_megabytes * 1_000_000:
        raise InvalidInput(f"the file is {len(data) / 1_000_000:.1f} MB: at most "
                           f"{limits.max_megabytes:g} MB are kept", field="file")  # fmt: skip
    media_type = sniff(data)
    if media_type is None:
        raise InvalidInput(f"{name or 'the file'} is not of a kind kept here: {KINDS}",
                           field="file")  # fmt: skip
    facts: dict[str, Any] = {}
    digest = hashlib.sha256(data).hexdigest()
    store = store_for(session, settings)
    if media_type in PREVIEWABLE:
        facts, preview = _picture(data, limits)
        store.put(f"{digest}.preview", preview)
    store.put(digest, data)
    row = StoredFile(id=uuid.uuid4().hex, sha256=digest, name=clean_name(name, media_type),
                     media_type=media_type, size=len(data), created_by=actor[:200], **facts)  # fmt: skip
    repository.add(session, row)
    return FileRead.model_validate(row)


def get(session: Session, file_id: str) -> FileRead:
    row = repository.get(session, file_id) if re.fullmatch(r"[0-9a-f]{32}", file_id) else None
    if row is None:
        raise NotFound(f"no file {file_id}", field="file_id")
    return FileRead.model_validate(row)


def many(session: Session, ids: list[str]) -> dict[str, FileRead]:
    return {r.id: FileRead.model_validate(r) for r in repository.many(session, ids)}


def content(
    session: Session, settings: Settings, file: FileRead, *, preview: bool = False
) -> bytes:
    """The file's bytes, or its preview (a photo only; NotFound for other kinds)."""
    if preview and file.media_type not in PREVIEWABLE:
        raise NotFound(f"file {file.id} is not a picture: it has no preview", field="preview")
    key = f"{file.sha256}.preview" if preview else file.sha256
    data = store_for(session, settings).get(key)
    if data is None:
        raise NotFound(f"the bytes of file {file.id} are missing from the store", field="file_id")
    return data


def disposition(file: FileRead, inline: bool = True) -> str:
    """A Content-Disposition header for the file's own name (RFC 6266, UTF-8 names)."""
    ascii_name = file.name.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file.name)}"


def response(data: bytes, file: FileRead, preview: bool = False) -> Response:
    """The file (or its preview) for a browser: under its own name, never run as a page of
    this site (sandboxed, its kind not guessed), cached by the reader only."""
    media_type = ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg") if preview else (
        file.media_type)  # fmt: skip
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": disposition(file), "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
    })  # fmt: skip


def sweep(session: Session, settings: Settings, older_than: timedelta = timedelta(hours=1)) -> int:
    """Remove from the directory store the bytes (and half-written files) that no kept file
    names and that are older than ``older_than`` — what a failed request left; returns how many.
    The database store needs none: its bytes go with the transaction that wrote them."""
    if settings.files.store != "directory":
        return 0
    root = settings.home / "files"
    if not root.is_dir():
        return 0
    cutoff = (datetime.now(UTC) - older_than).timestamp()
    old = [p for p in root.glob("*/*") if p.is_file() and p.stat().st_mtime < cutoff]
    named: set[str] = set()
    digests = sorted({p.name.split(".")[0] for p in old if not p.name.startswith(".part-")})
    for start in range(0, len(digests), 500):
        named |= repository.known_digests(session, digests[start : start + 500])
    removed = 0
    for path in old:
        if path.name.startswith(".part-") or path.name.split(".")[0] not in named:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
