"""Limits on how often one caller may do something that needs no sign-in (the citizen portal's
submissions and look-ups) and on failed sign-ins per address: so that no one floods the 12345
centre with requests, or tries phone numbers one after another until a case opens.

Counted in fixed windows in the platform's shared store (``core/shared``: the database by
default, Redis when set), so that every web process counts the same calls and a restart forgets
nothing: a caller who reaches the limit on one server is refused by all of them.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from citybase.core.errors import TooMany
from citybase.core.shared.service import SharedStore

PREFIX = "limit:"


class Limiter:
    def __init__(self, store: SharedStore) -> None:
        self.store = store

    def hit(
        self, key: str, limit: int, seconds: int, message: str, now: float | None = None
    ) -> None:
        """Count one call under ``key``; beyond ``limit`` calls in ``seconds``, refuse it (429,
        with when to try again). A limit of 0 or less counts nothing."""
        if limit <= 0:
            return
        window = self.store.add(PREFIX + key, seconds, now)
        if window.calls > limit:
            raise TooMany(message, retry_after=max(1, window.seconds_left))

    def count(self, key: str, seconds: int, now: float | None = None) -> None:
        """Count one event under ``key`` (a failed attempt) without refusing anything."""
        self.store.add(PREFIX + key, seconds, now)

    def blocked_for(self, key: str, limit: int, now: float | None = None) -> int:
        """Seconds until ``key``'s window ends when it has counted ``limit`` events in it; 0 when
        it has not (or the limit is 0)."""
        if limit <= 0:
            return 0
        window = self.store.read(PREFIX + key, now)
        if window.calls < limit:
            return 0
        return max(1, window.seconds_left)


def limiter_for(connection: HTTPConnection) -> Limiter:
    """The limiter of the application serving this request."""
    store: SharedStore = connection.app.state.shared
    return Limiter(store)
