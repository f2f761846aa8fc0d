"""A process that judges one gauge's readings, as an ingestor does: ``python -m
tests.perception.rules.judging_process URL PARITY BATCHES``. It takes the readings of every
other five minutes (``PARITY`` 0 or 1) after the first day, four a batch, each batch in its own
transaction, and prints how many readings its detectors learnt from."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from citybase.core.db.engine import Database
from citybase.perception.rules import service as rules
from citybase.perception.rules.detector import Detector
from citybase.perception.telemetry import service as telemetry
from citybase.perception.telemetry.schemas import ReadingIn
from tests.perception.rules.test_shared_detectors import FIRST, T0, level

learnt = 0
_update = Detector.update


def _counting(self: Detector, timestamp: Any, value: float | None) -> float:
    global learnt
    learnt += 1
    return _update(self, timestamp, value)


def main(url: str, parity: int, batches: int) -> None:
    Detector.update = _counting  # type: ignore[method-assign]
    db = Database(url)
    for b in range(batches):
        steps = [FIRST + 2 * (4 * b + i) + parity for i in range(4)]
        readings = [ReadingIn(device_id="wl-1", ts=T0 + timedelta(minutes=5 * t),
                              values={"level": level(t)}) for t in steps]  # fmt: skip
        with db.session_scope() as session:
            _, accepted = telemetry.ingest(session, readings, protocol="test",
                                           now=T0 + timedelta(days=30))  # fmt: skip
            rules.judge(session, accepted)
    db.dispose()
    print(learnt)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
