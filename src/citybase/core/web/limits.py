"""Limits on how often one caller may do something that needs no sign-in (the citizen portal's
submissions and look-ups): so that no one floods the 12345 centre with requests, or tries phone
numbers one after another until a case opens.

Counted in fixed windows in this process's memory: nothing to set up, and a restart forgets. With
several web processes each counts its own calls, so a caller may reach the limit once in each;
a reverse proxy's limit (nginx ``limit_req``) is the place for a hard ceiling across them.
"""

from __future__ import annotations

import math
import threading
import time

from citybase.core.errors import TooMany

PRUNE_AT = 50_000  # keys kept before the expired ones are dropped


class Limiter:
    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(
        self, key: str, limit: int, seconds: int, message: str, now: float | None = None
    ) -> None:
        """Count one call under ``key``; beyond ``limit`` calls in ``seconds``, refuse it (429,
        with when to try again). A limit of 0 or less counts nothing."""
        if limit > 0:
            self._add(key, seconds, now, limit, message)

    def count(self, key: str, seconds: int, now: float | None = None) -> None:
        """Count one event under ``key`` (a failed attempt) without refusing anything."""
        self._add(key, seconds, now)

    def _add(
        self, key: str, seconds: int, now: float | None, limit: int = 0, message: str = ""
    ) -> None:
        moment = time.monotonic() if now is None else now
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
            if moment >= ends:
                ends, count = moment + seconds, 0
            if limit and count >= limit:
                raise TooMany(message, retry_after=max(1, math.ceil(ends - moment)))
            self._windows[key] = (ends, count + 1)
            if len(self._windows) > PRUNE_AT:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > moment}

    def blocked_for(self, key: str, limit: int, now: float | None = None) -> int:
        """Seconds until ``key``'s window ends when it has counted ``limit`` events in it; 0 when
        it has not (or the limit is 0)."""
        moment = time.monotonic() if now is None else now
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
        if limit <= 0 or moment >= ends or count < limit:
            return 0
        return max(1, math.ceil(ends - moment))

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


limiter = Limiter()
