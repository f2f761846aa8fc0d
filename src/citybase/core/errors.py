"""Errors every layer raises; the web layer renders them in each API's own error format."""

from __future__ import annotations

from typing import Any


class CitybaseError(Exception):
    """An error meant for the caller: a status, a stable code, a message, and the field at fault."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(CitybaseError):
    status_code = 422
    code = "invalid"


class NotFound(CitybaseError):
    status_code = 404
    code = "not_found"


class Conflict(CitybaseError):
    status_code = 409
    code = "conflict"


class NotAuthenticated(CitybaseError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(CitybaseError):
    status_code = 403
    code = "forbidden"


class Locked(CitybaseError):
    status_code = 423
    code = "locked"


class TooMany(CitybaseError):
    """Too many calls from one caller in a while; ``retry_after`` says in how many seconds."""

    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field, retry_after=retry_after)
        self.retry_after = retry_after


class Busy(CitybaseError):
    """The database could not take the change in time (a lock held too long elsewhere); the
    caller may send it again in ``retry_after`` seconds. Nothing of it was kept."""

    status_code = 503
    code = "busy"

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
