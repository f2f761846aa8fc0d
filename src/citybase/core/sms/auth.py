"""Who reads the SMS log: platform admins only (the log gateway's messages hold sign-in codes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from citybase.core.identity import service as identity
from citybase.core.identity.auth import require
from citybase.core.identity.schemas import Principal, Role

SMS_LOG_READ = identity.define_permission(
    "sms:log.read", "Read the SMS log (短信记录) with the messages' text", Role.platform_admin
)

SmsLogReader = Annotated[Principal, Depends(require(SMS_LOG_READ))]
