"""Sharing's permissions, and the context every traced read is asked with (its headers)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header
from pydantic import ValidationError

from citybase.core.errors import InvalidInput
from citybase.core.identity import service as identity
from citybase.core.identity.auth import require, require_any
from citybase.core.identity.schemas import Principal, Role
from citybase.data.sharing.schemas import ReadContext

SHARE_REQUEST = identity.define_permission(
    "sharing:request", "Request other units' data for one's own unit",
    Role.data_steward, Role.data_consumer, Role.unit_admin,
)  # fmt: skip
SHARE_DECIDE = identity.define_permission(
    "sharing:decide", "Decide requests for one's own unit's data, and revoke grants",
    Role.data_steward,
)  # fmt: skip

ShareRequester = Annotated[Principal, Depends(require(SHARE_REQUEST))]
ShareDecider = Annotated[Principal, Depends(require(SHARE_DECIDE))]
SHARE_READ = identity.define_permission(
    "sharing:read", "Read other units' data under a grant held by one's unit",
    Role.data_steward, Role.data_consumer, Role.unit_admin,
)  # fmt: skip
SHARE_AUDIT = identity.define_permission(
    "sharing:audit", "Search every unit's reads of shared data, by data subject too",
    Role.auditor,
)  # fmt: skip

ShareReader = Annotated[Principal, Depends(require(SHARE_READ))]
ShareAuditor = Annotated[Principal, Depends(require(SHARE_AUDIT))]
AccessViewer = Annotated[Principal, Depends(require_any(SHARE_READ, SHARE_AUDIT, SHARE_DECIDE))]


def header_text(value: str) -> str:
    """A header's text: percent-encoded UTF-8 (the portable way to send Chinese), or raw UTF-8
    bytes that arrived as Latin-1."""
    value = unquote(value.strip())
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def read_context(
    user_id: Annotated[str, Header(alias="X-Citybase-UserId",
                                   description="The person a system reads for")] = "",
    issue: Annotated[str, Header(alias="X-Citybase-Issue",
                                 description="The case the read belongs to (案件编号/文号)")] = "",
    purpose: Annotated[str, Header(alias="X-Citybase-Purpose",
                                   description="Why, percent-encoded UTF-8")] = "",
    client: Annotated[str, Header(alias="X-Citybase-Client",
                                  description="The unit the caller acts for")] = "",
) -> ReadContext:  # fmt: skip
    try:
        return ReadContext(
            end_user=header_text(user_id), case_number=header_text(issue),
            purpose=header_text(purpose), client_unit=client.strip(),
        )  # fmt: skip
    except ValidationError as exc:
        raise InvalidInput(f"a header is too long: {exc.errors()[0]['loc'][0]}",
                           field="headers") from exc  # fmt: skip


Context = Annotated[ReadContext, Depends(read_context)]
