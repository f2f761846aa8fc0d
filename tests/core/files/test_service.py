from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.files.models import FileBlob
from citybase.core.settings import FilesSettings, Settings
from tests.core.files.factories import photo

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.4 rest", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"GIF89a....", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"#!AMR\n....", "audio/amr"),
        (b"ID3\x04\x00....", "audio/mpeg"),
        (b"\xff\xfb\x90\x64....", "audio/mpeg"),
        (b"\x00\x00\x00\x18ftypheic....", "image/heic"),
        (b"\x00\x00\x00\x18ftypisom....", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  ....", "video/quicktime"),
        (b"\x00\x00\x00\x20ftypM4A ....", "audio/mp4"),
        (b"MZ\x90\x00 a program", None),
        (b"<html><script>", None),
        (b"PK\x03\x04 a zip", None),
    ],
)
def test_a_file_is_what_its_bytes_show(head: bytes, kind: str | None) -> None:
    assert files.sniff(head) == kind


def test_names_are_cleaned_and_end_as_their_kind() -> None:
    assert files.clean_name("../../etc/passwd", "application/pdf") == "passwd.pdf"
    assert files.clean_name("C:\\照片\\井盖.JPG", "image/jpeg") == "井盖.JPG"
    assert files.clean_name("现场.jpeg", "image/jpeg") == "现场.jpeg"
    assert files.clean_name("bad\x00na\nme.png", "image/png") == "badname.png"
    assert files.clean_name("", "audio/amr") == "file.amr"
    assert files.clean_name("report.exe", "application/pdf") == "report.exe.pdf"
    long = files.clean_name("长" * 300 + ".pdf", "application/pdf")
    assert (len(long), long[-4:]) == (200, ".pdf")


def test_a_photo_is_kept_with_where_and_when_it_was_taken(
    session: Session, settings: Settings
) -> None:
    data = photo((800, 600), lon=119.3061, lat=26.0753, taken="2026:11:30 09:15:00",
                 orientation=6)  # fmt: skip
    kept = files.keep(session, settings, "林", "IMG_0001.jpg", data)
    assert (kept.media_type, kept.size, kept.width, kept.height) == ("image/jpeg", len(data), 800,
                                                                     600)  # fmt: skip
    assert kept.lon == pytest.approx(119.3061, abs=1e-5)
    assert kept.lat == pytest.approx(26.0753, abs=1e-5)
    assert kept.taken_at == datetime(2026, 11, 30, 1, 15, tzinfo=UTC)  # the city's clock: +08:00
    assert files.get(session, kept.id) == kept
    assert files.content(session, settings, kept) == data
    from PIL import Image

    preview = Image.open(io.BytesIO(files.content(session, settings, kept, preview=True)))
    assert preview.size == (240, 320)  # turned upright as the phone held it, at most 320 across
    assert not preview.getexif()  # nothing of where it was taken goes with the preview
    on_disk = list((settings.home / "files").rglob("*"))
    assert len([p for p in on_disk if p.is_file()]) == 2  # the photo and its preview


def test_the_same_bytes_are_kept_once(session: Session, settings: Settings) -> None:
    first = files.keep(session, settings, "a", "a.pdf", PDF)
    second = files.keep(session, settings, "b", "b.pdf", PDF)
    assert first.id != second.id
    assert first.sha256 == second.sha256
    assert [p.name for p in (settings.home / "files").rglob("*") if p.is_file()] == [first.sha256]
    assert files.content(session, settings, second) == PDF
    with pytest.raises(NotFound, match="preview"):
        files.content(session, settings, first, preview=True)


def test_a_time_with_its_offset_and_a_phone_with_no_fix(
    session: Session, settings: Settings
) -> None:
    kept = files.keep(session, settings, "x", "p.jpg", photo(
        lon=0.0, lat=0.0, taken="2026:11:30 09:15:00", offset="+00:00"))  # fmt: skip
    assert kept.taken_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert (kept.lon, kept.lat) == (None, None)
    plain = files.keep(session, settings, "x", "q.png", photo(kind="PNG"))
    assert (plain.media_type, plain.taken_at, plain.lon) == ("image/png", None, None)


def test_what_is_refused(session: Session, tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        files.keep(session, settings, "x", "a.pdf", b"")
    with pytest.raises(InvalidInput, match="not of a kind kept here"):
        files.keep(session, settings, "x", "setup.exe", b"MZ\x90\x00" + b"\x00" * 100)
    with pytest.raises(InvalidInput, match="not of a kind kept here"):
        files.keep(session, settings, "x", "page.jpg", b"<html><script>alert(1)</script>")
    with pytest.raises(InvalidInput, match="cannot be read"):
        files.keep(session, settings, "x", "broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200)
    small = settings.model_copy(update={"files": FilesSettings(max_megabytes=0.001,
                                                               max_pixels=1_000_000)})  # fmt: skip
    with pytest.raises(InvalidInput, match=r"at most 0\.001 MB"):
        files.keep(session, small, "x", "big.pdf", PDF + b" " * 2000)
    with pytest.raises(InvalidInput, match="at most 1,000,000 pixels"):
        files.keep(session, small.model_copy(update={"files": FilesSettings(max_pixels=1_000_000)}),
                   "x", "wide.png", photo((2000, 1000), kind="PNG"))  # fmt: skip
    with pytest.raises(NotFound):
        files.get(session, "0" * 32)
    with pytest.raises(NotFound):
        files.get(session, "../../etc/passwd")
    assert not (settings.home / "files").exists()  # nothing refused was written


def test_the_database_as_the_store(session: Session, settings: Settings) -> None:
    in_db = settings.model_copy(update={"files": FilesSettings(store="database")})
    kept = files.keep(session, in_db, "x", "p.jpg", photo())
    assert files.content(session, in_db, kept) == files.content(session, in_db, kept) != b""
    assert files.content(session, in_db, kept, preview=True).startswith(b"\xff\xd8")
    assert session.scalar(select(func.count()).select_from(FileBlob)) == 2
    assert not (settings.home / "files").exists()
    with pytest.raises(NotFound, match="missing from the store"):
        files.content(session, settings, kept)  # a directory store that never had it


def test_a_name_in_chinese_goes_to_the_browser_whole(session: Session, settings: Settings) -> None:
    kept = files.keep(session, settings, "x", "鼓东路井盖.pdf", PDF)
    header = files.disposition(kept)
    assert header.startswith('inline; filename="')
    assert "filename*=UTF-8''%E9%BC%93%E4%B8%9C" in header
    response = files.response(PDF, kept)
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_bytes_no_file_names_are_swept_once_old(session: Session, settings: Settings) -> None:
    import os
    import time

    kept = files.keep(session, settings, "x", "a.pdf", PDF)
    store = files.DirectoryStore(settings.home / "files")
    store.put("ab" + "0" * 62, b"left by a failed request")
    half = settings.home / "files" / "ab" / ".part-x1"
    half.write_bytes(b"half")
    fresh = "cd" + "0" * 62
    store.put(fresh, b"being written now")
    hour_ago = time.time() - 7200
    for path in (settings.home / "files").rglob("*"):
        if path.is_file() and not path.name.startswith("cd"):
            os.utime(path, (hour_ago, hour_ago))
    assert files.sweep(session, settings) == 2
    left = sorted(p.name for p in (settings.home / "files").rglob("*") if p.is_file())
    assert left == sorted([kept.sha256, fresh])
    assert files.sweep(session, settings.model_copy(update={
        "files": FilesSettings(store="database")})) == 0  # fmt: skip
