"""Helpers for console forms: read a form into a schema, and turn errors into per-field messages."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from citybase.core.db.engine import undo_request
from citybase.core.errors import CitybaseError, NotFound

M = TypeVar("M", bound=BaseModel)


async def read_form(request: Request) -> dict[str, Any]:
    """The submitted form's fields (a list where a name repeats or ends in ``[]``), its tokens
    left out; as a route dependency (``form: SubmittedForm``) it is read on the event loop, so that
    the route itself can be a plain ``def`` and do its database work in a thread."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        if key in ("csrf_token", "form_token"):
            continue
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = (
            values if len(values) > 1 or key.endswith("[]") else (values[0] if values else "")
        )
    return {k.removesuffix("[]"): v for k, v in data.items()}


async def read_multipart(request: Request) -> FormData:
    """The submitted form as sent, files included (``form: RawForm``); read as ``read_form``."""
    return await request.form()


async def read_raw_body(request: Request) -> bytes:
    """The request's body, read on the event loop for a plain ``def`` route (``body: RawBody``)."""
    return await request.body()


# Routes that write are plain ``def``s: FastAPI runs them in its thread pool. A route that is an
# ``async def`` runs on the event loop, and one that waits there on the database (a lock held by
# another request, whose commit the event loop must schedule) stops the whole process. These
# dependencies read what must be awaited before the route runs.
SubmittedForm = Annotated[dict[str, Any], Depends(read_form)]
RawForm = Annotated[FormData, Depends(read_multipart)]
RawBody = Annotated[bytes, Depends(read_raw_body)]


def split_list(text: str) -> list[str]:
    """A list typed in one field: "fz.bigdata, 市通管办、fz.miit" → its items (commas, 、, ; or lines)."""
    return [p.strip() for p in re.split(r"[,，、;；\n]+", text) if p.strip()]


def blank_to_none(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: (None if k in keys and v == "" else v) for k, v in data.items()}


def form_errors(exc: Exception) -> dict[str, str]:
    """Field → message, for re-rendering a form next to the fields at fault."""
    if isinstance(exc, ValidationError):
        found: dict[str, str] = {}
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"]) or "form"
            message = e["msg"].removeprefix("Value error, ")
            # a check across fields names the field it is about: "price_yuan: a free product…"
            named = re.match(r"([a-z_][a-z0-9_]*): (.+)\Z", message, re.S)
            if field == "form" and named:
                field, message = named.groups()
            found[field] = message
        return found
    if isinstance(exc, CitybaseError):
        return {exc.field or "form": exc.message}
    raise exc


def undo(session: Session) -> None:
    """Throw away what a failed form submission wrote before its error was found."""
    undo_request(session)


def failure_text(session: Session, exc: Exception) -> str:
    """``failure`` in one line, for a redirect's ``?error=``."""
    return "; ".join(f"{k}: {v}" for k, v in failure(session, exc).items())


def failure(session: Session, exc: Exception) -> dict[str, str]:
    """A form submission failed: throw away what it wrote, let a 404 through (one may not learn
    what one cannot see from a form), and say per field what was wrong."""
    undo_request(session)
    if isinstance(exc, NotFound):
        raise exc
    return form_errors(exc)
