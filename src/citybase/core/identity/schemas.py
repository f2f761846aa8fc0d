from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Role(StrEnum):
    """The built-in roles. Layers grant their own permissions to them (``grant``)."""

    platform_admin = "platform_admin"
    unit_admin = "unit_admin"
    data_steward = "data_steward"
    data_consumer = "data_consumer"
    hotline_operator = "hotline_operator"
    case_handler = "case_handler"
    supervisor = "supervisor"
    auditor = "auditor"
    viewer = "viewer"
    # staff of a company the bureau authorized to operate public data (授权运营单位)
    data_operator = "data_operator"
    # staff of an issuing unit who issue and revoke its e-certificates (电子证照管理员)
    certificate_manager = "certificate_manager"
    # a person or an enterprise's agent signed in to apply for public services (申请人), known
    # by its real-name identity; belongs to no unit
    applicant = "applicant"


# The roles whose powers stay within the holder's own unit: a unit admin grants these only. The
# others reach across units — every case (operator, supervisor, auditor), the whole ledger and
# every user (supervisor), every read of shared data (auditor), everything (platform admin) — or
# act for a company under the bureau's agreement (data operator), and are granted by a platform
# admin.
UNIT_ROLES = frozenset(
    {
        Role.unit_admin,
        Role.data_steward,
        Role.data_consumer,
        Role.case_handler,
        Role.viewer,
        Role.certificate_manager,
    }
)


USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")


class UserBase(BaseModel):
    display_name: str = Field(min_length=1, max_length=100)
    unit_code: str | None = Field(None, description="Code of the unit the user works for.")
    roles: list[Role] = Field(default_factory=list)


class UserCreate(UserBase):
    username: str = Field(description="3–64 characters: lower-case letters, digits, _ . -")
    password: str = Field(min_length=10, max_length=200)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        if not USERNAME.match(value):
            raise ValueError(
                "use 3–64 lower-case letters, digits, _ . or -, starting with a letter"
            )
        return value


class UserUpdate(BaseModel):
    display_name: str | None = Field(None, min_length=1, max_length=100)
    unit_code: str | None = None
    roles: list[Role] | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=10, max_length=200)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    unit_code: str | None
    unit_name: str | None
    roles: list[Role]
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(
        default_factory=list,
        description="Permissions the key may use; empty means all of its owner's permissions.",
    )
    expires_in_days: int | None = Field(None, ge=1, le=3650)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    prefix: str
    name: str
    user_id: int
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    secret: str = Field(description="The full key. It is shown once and never stored.")


class PasswordChange(BaseModel):
    current_password: str
    new_password: str = Field(min_length=10, max_length=200)


class Principal(BaseModel):
    """Who is calling: a signed-in user, or a user's API key (with the key's scopes)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    username: str
    display_name: str
    unit_id: int | None
    unit_code: str
    roles: frozenset[Role]
    permissions: frozenset[str]
    via: str = Field(description="session or api_key")
    api_key_id: int | None = None
    csrf_token: str | None = None

    def can(self, permission: str) -> bool:
        return "*" in self.permissions or permission in self.permissions

    def has_role(self, role: Role) -> bool:
        return role in self.roles
