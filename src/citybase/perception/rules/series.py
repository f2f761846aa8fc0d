"""Score a whole series from a file as the streaming detector would live: ``timestamp,value``
in, ``timestamp,value,anomaly_score`` out (``citybase perception score-series``)."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from citybase.core.errors import InvalidInput, NotFound
from citybase.core.tables import iter_csv_records
from citybase.perception.rules.detector import Detector


def _number(text: str) -> float | None:
    text = (text or "").strip()
    if not text or text.lower() in {"nan", "null", "none"}:
        return None
    return float(text)


def _moment(text: str | None) -> float | None:
    """A timestamp as seconds since the epoch (ISO 8601, a zone-less one taken as UTC, or a
    number of seconds), or None when it is neither."""
    text = (text or "").strip()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def read_series(source: Path) -> list[tuple[datetime, float]]:
    """The readings of a ``timestamp,value`` file, in the file's order; rows without a value are
    left out, a row without a time it can read is refused."""
    records, stamp, reading = _open(source)
    found = []
    for line, row in enumerate(records, start=2):
        try:
            value = _number(row.get(reading) or "")
        except ValueError as exc:
            raise InvalidInput(f"{source.name}, line {line}: {row.get(reading)!r} is not a number",
                               field="input") from exc  # fmt: skip
        at = _moment(row.get(stamp))
        if at is None:
            raise InvalidInput(f"{source.name}, line {line}: {row.get(stamp)!r} is not a time",
                               field="input")  # fmt: skip
        if value is not None and math.isfinite(value):
            found.append((datetime.fromtimestamp(at, UTC), value))
    return found


def _open(source: Path) -> tuple[Any, str, str]:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise NotFound(f"no file {source}", field="input") from exc
    fieldnames, records = iter_csv_records(text, field="input")
    names = [n.strip().lower() for n in fieldnames]
    if "timestamp" not in names or "value" not in names:
        raise InvalidInput(f"{source.name} needs columns timestamp and value (it has "
                           f"{', '.join(fieldnames) or 'none'})", field="input")  # fmt: skip
    return records, fieldnames[names.index("timestamp")], \
        fieldnames[names.index("value")]  # fmt: skip


def score_series(source: Path, output: Path, **options: Any) -> int:
    """``timestamp,value`` in, ``timestamp,value,anomaly_score`` out; returns the rows."""
    records, stamp, reading = _open(source)
    detector = Detector(**options)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "value", "anomaly_score"])
    count = 0
    for line, row in enumerate(records, start=2):
        try:
            value = _number(row.get(reading) or "")
        except ValueError as exc:
            raise InvalidInput(f"{source.name}, line {line}: {row.get(reading)!r} is not a number",
                               field="input") from exc  # fmt: skip
        score = detector.update(_moment(row.get(stamp)), value)
        writer.writerow([row.get(stamp), row.get(reading), f"{score:.6f}"])
        count += 1
    output.write_text(out.getvalue(), encoding="utf-8")
    return count
