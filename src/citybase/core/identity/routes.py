from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from citybase.core.identity import service
from citybase.core.identity.auth import CurrentPrincipal, require
from citybase.core.identity.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    PasswordChange,
    Principal,
    Role,
    UserCreate,
    UserRead,
    UserUpdate,
)
from citybase.core.web.deps import AppSettings, DbSession
from citybase.core.web.params import Id

router = APIRouter(prefix="/api/v1", tags=["identity"])

UsersReader = Annotated[Principal, Depends(require(service.USERS_READ))]
UsersWriter = Annotated[Principal, Depends(require(service.USERS_WRITE))]
KeysOwner = Annotated[Principal, Depends(require(service.KEYS_OWN))]


@router.get("/me")
def me(principal: CurrentPrincipal) -> dict[str, object]:
    """Who the caller is, with roles and effective permissions."""
    return {
        "username": principal.username,
        "display_name": principal.display_name,
        "unit_code": principal.unit_code,
        "roles": sorted(principal.roles),
        "permissions": sorted(principal.permissions),
        "via": principal.via,
    }


@router.post("/me/password", status_code=204)
def change_password(session: DbSession, principal: CurrentPrincipal, data: PasswordChange) -> None:
    """Change one's own password (from a console session). Every session of the user ends."""
    service.change_own_password(session, principal, data.current_password, data.new_password)


@router.get("/roles")
def roles(principal: CurrentPrincipal) -> dict[str, object]:
    """The built-in roles and what each may do."""
    return {
        "roles": {r.value: sorted(service.ROLE_GRANTS[r]) for r in Role},
        "permissions": service.PERMISSIONS,
    }


@router.get("/users")
def list_users(session: DbSession, principal: UsersReader, q: str = "") -> list[UserRead]:
    return service.get_accessible_users(session, principal, search=q)


@router.get("/users/{user_id}")
def get_user(session: DbSession, principal: UsersReader, user_id: Id) -> UserRead:
    return service.get_accessible_user(session, principal, user_id)


@router.post("/users", status_code=201)
def create_user(session: DbSession, principal: UsersWriter, data: UserCreate) -> UserRead:
    return service.create_user(session, principal, data)


@router.patch("/users/{user_id}")
def update_user(
    session: DbSession, principal: UsersWriter, user_id: Id, data: UserUpdate
) -> UserRead:
    return service.update_user(session, principal, user_id, data)


@router.post("/users/{user_id}/unlock")
def unlock_user(session: DbSession, principal: UsersWriter, user_id: Id) -> UserRead:
    return service.unlock_user(session, principal, user_id)


@router.get("/keys")
def list_keys(
    session: DbSession, principal: KeysOwner, all: Annotated[bool, Query()] = False
) -> list[ApiKeyRead]:
    """The caller's API keys; ``all=true`` lists everyone's for a platform admin."""
    return service.list_api_keys(session, principal, all_users=all)


@router.post("/keys", status_code=201)
def create_key(
    session: DbSession, settings: AppSettings, principal: KeysOwner, data: ApiKeyCreate
) -> ApiKeyCreated:
    """Create an API key. The response holds the key itself, once; only its hash is stored."""
    return service.create_api_key(session, settings, principal, data)


@router.delete("/keys/{key_id}")
def revoke_key(session: DbSession, principal: KeysOwner, key_id: Id) -> ApiKeyRead:
    return service.revoke_api_key(session, principal, key_id)
