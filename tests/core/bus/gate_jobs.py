"""A job kind for tests that run a real worker process (``tests/test_processes.py``): it notes
in a folder that it began, then waits until the test opens the gate (a file ``open`` there), so
the test decides when the job ends — no sleep stands in for an event."""

from __future__ import annotations

import time
from pathlib import Path

from citybase.core.bus import service as bus
from citybase.core.bus.service import JobContext

KIND = "test.gate"
LONGEST = 120.0  # a gate never opened (a failed test) lets the job end after this


@bus.job(KIND)
def gate(ctx: JobContext) -> None:
    folder = Path(ctx.payload["folder"])
    (folder / f"began-{ctx.payload['name']}").touch()
    ends = time.monotonic() + LONGEST
    while not (folder / "open").exists() and time.monotonic() < ends:
        time.sleep(0.05)
