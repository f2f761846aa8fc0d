"""Users, roles, API keys and console sessions, and the permission checks every domain uses.

Passwords are hashed with argon2id. API keys and session tokens are random 256-bit secrets of
which only the SHA-256 is stored (a fast hash is right for high-entropy secrets; argon2 would
make every API call pay for a password hash). Logins, lock-outs and every change to users, roles
and keys are written to the ledger.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity import repository
from citybase.core.identity.models import ApiKey, ConsoleSession, User
from citybase.core.identity.schemas import (
    UNIT_ROLES,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    Principal,
    Role,
    UserCreate,
    UserRead,
    UserUpdate,
)
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.settings import Settings

_hasher = PasswordHasher()
API_KEY_PREFIX = "cb"

# --- permissions -------------------------------------------------------------------------------

PERMISSIONS: dict[str, str] = {}
ROLE_GRANTS: dict[Role, set[str]] = {role: set() for role in Role}


def define_permission(name: str, description: str, *roles: Role) -> str:
    """Declare a permission and grant it to roles. Layers call this from their ``auth.py``."""
    PERMISSIONS[name] = description
    for role in roles:
        ROLE_GRANTS[role].add(name)
    return name


ROLE_GRANTS[Role.platform_admin].add("*")
ORGS_READ = define_permission("orgs:read", "View regions and units", *Role)
ORGS_WRITE = define_permission("orgs:write", "Create and change regions and units")
USERS_READ = define_permission("users:read", "View users", Role.unit_admin, Role.supervisor)
USERS_WRITE = define_permission(
    "users:write", "Create and change users of one's own unit", Role.unit_admin
)
KEYS_OWN = define_permission(
    "keys:own", "Create and revoke one's own API keys", *(r for r in Role if r is not Role.viewer)
)
LEDGER_READ = define_permission(
    "ledger:read", "Browse the whole audit ledger", Role.supervisor, Role.auditor
)
LEDGER_READ_UNIT = define_permission(
    "ledger:read_unit", "Browse the audit ledger of one's own unit", Role.unit_admin
)
SYSTEM_READ = define_permission("system:read", "See the platform's health and background work")


def permissions_for(roles: Iterable[Role]) -> frozenset[str]:
    granted: set[str] = set()
    for role in roles:
        granted |= ROLE_GRANTS.get(role, set())
    return frozenset(granted)


def actor_of(principal: Principal) -> Actor:
    suffix = f" (key {principal.api_key_id})" if principal.via == "api_key" else ""
    return Actor(name=principal.username + suffix, unit=principal.unit_code)


def require_permission(principal: Principal, permission: str) -> None:
    if not principal.can(permission):
        raise Forbidden(f"this needs the permission {permission}", field="permission")


# --- passwords ---------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- users -------------------------------------------------------------------------------------


def _user_reads(session: Session, users: list[User]) -> list[UserRead]:
    roles = repository.roles_of(session, [u.id for u in users])
    units = orgs.units_by_id(session, [u.unit_id for u in users if u.unit_id is not None])
    result = []
    for u in users:
        unit = units.get(u.unit_id) if u.unit_id is not None else None
        result.append(
            UserRead(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                unit_code=unit.code if unit else None,
                unit_name=unit.name if unit else None,
                roles=[Role(r) for r in roles[u.id] if r in Role.__members__],
                active=u.active,
                locked_until=u.locked_until,
                last_login_at=u.last_login_at,
                created_at=u.created_at,
            )
        )
    return result


def get_user(session: Session, user_id: int) -> UserRead:
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    return _user_reads(session, [user])[0]


def get_user_by_username(session: Session, username: str) -> UserRead:
    user = repository.get_user_by_username(session, username)
    if user is None:
        raise NotFound(f"no user {username}", field="username")
    return _user_reads(session, [user])[0]


def get_accessible_users(
    session: Session, principal: Principal, search: str = ""
) -> list[UserRead]:
    """Users the principal may see: all for platform admins and supervisors, else its own unit."""
    require_permission(principal, USERS_READ)
    everyone = principal.has_role(Role.platform_admin) or principal.has_role(Role.supervisor)
    unit_ids = None if everyone else [principal.unit_id] if principal.unit_id else []
    return _user_reads(session, repository.list_users(session, unit_ids=unit_ids, search=search))


def get_accessible_user(session: Session, principal: Principal, user_id: int) -> UserRead:
    """One user, if the principal may see it; otherwise the same 404 as for no user at all."""
    user = get_user(session, user_id)
    require_permission(principal, USERS_READ)
    everyone = principal.has_role(Role.platform_admin) or principal.has_role(Role.supervisor)
    if not everyone and (principal.unit_code is None or user.unit_code != principal.unit_code):
        raise NotFound(f"no user {user_id}", field="user_id")
    return user


def _check_user_admin(
    principal: Principal | None, unit_id: int | None, roles: Iterable[Role]
) -> None:
    """Platform admins manage everyone; unit admins manage their unit, with the roles whose
    powers stay within it (``UNIT_ROLES``)."""
    if principal is None or principal.has_role(Role.platform_admin):
        return
    require_permission(principal, USERS_WRITE)
    if unit_id is None or unit_id != principal.unit_id:
        raise Forbidden("a unit admin manages only the users of their own unit", field="unit_code")
    beyond = sorted(r.value for r in set(roles) - UNIT_ROLES)
    if beyond:
        raise Forbidden(f"only a platform admin can grant {', '.join(beyond)}: its powers reach "
                        "beyond one unit", field="roles")  # fmt: skip


def _unit_id(session: Session, unit_code: str | None) -> int | None:
    if not unit_code:
        return None
    try:
        return orgs.get_unit(session, unit_code).id
    except NotFound as exc:
        raise InvalidInput(f"unit {unit_code} does not exist", field="unit_code") from exc


def create_user(
    session: Session, principal: Principal | None, data: UserCreate, *, actor: Actor | None = None
) -> UserRead:
    """Create a user. ``principal`` None means the platform itself (``citybase init``, the demo)."""
    unit_id = _unit_id(session, data.unit_code)
    _check_user_admin(principal, unit_id, data.roles)
    if repository.get_user_by_username(session, data.username) is not None:
        raise Conflict(f"user {data.username} already exists", field="username")
    now = datetime.now(UTC)
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password),
        unit_id=unit_id,
        active=True,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    repository.add(session, user)
    repository.set_roles(session, user.id, [r.value for r in data.roles])
    ledger.record(
        session, actor or _actor(principal), "user.create", object_type="user",
        object_id=user.username,
        details={"unit": data.unit_code, "roles": sorted(r.value for r in data.roles)},
    )  # fmt: skip
    return _user_reads(session, [user])[0]


def _actor(principal: Principal | None) -> Actor:
    return actor_of(principal) if principal is not None else Actor.system()


def update_user(
    session: Session, principal: Principal | None, user_id: int, data: UserUpdate
) -> UserRead:
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    current_roles = [Role(r) for r in repository.roles_of(session, [user.id])[user.id]]
    _check_user_admin(principal, user.unit_id, current_roles)
    changes: dict[str, object] = {}
    if "unit_code" in data.model_fields_set:
        new_unit = _unit_id(session, data.unit_code)
        _check_user_admin(principal, new_unit, [])
        if new_unit != user.unit_id:
            changes["unit"] = data.unit_code
            user.unit_id = new_unit
    if data.display_name is not None and data.display_name != user.display_name:
        changes["display_name"] = data.display_name
        user.display_name = data.display_name
    if data.active is not None and data.active != user.active:
        if principal is not None and principal.user_id == user.id and not data.active:
            raise InvalidInput("you cannot deactivate yourself", field="active")
        changes["active"] = data.active
        user.active = data.active
        if not data.active:
            repository.delete_sessions_of(session, user.id)
    if data.password is not None:
        changes["password"] = "changed"  # noqa: S105 -- a note that it changed, not a secret
        user.password_hash = hash_password(data.password)
        user.failed_logins = 0
        user.locked_until = None
        repository.delete_sessions_of(session, user.id)
    if data.roles is not None and set(data.roles) != set(current_roles):
        _check_user_admin(principal, user.unit_id, data.roles)
        if (
            principal is not None
            and principal.user_id == user.id
            and (Role.platform_admin in current_roles and Role.platform_admin not in data.roles)
        ):
            raise InvalidInput("you cannot take platform_admin from yourself", field="roles")
        changes["roles"] = sorted(r.value for r in data.roles)
        repository.set_roles(session, user.id, [r.value for r in data.roles])
    if changes:
        user.updated_at = datetime.now(UTC)
        session.flush()
        ledger.record(
            session, _actor(principal), "user.update", object_type="user",
            object_id=user.username, details={"changes": changes},
        )  # fmt: skip
    return _user_reads(session, [user])[0]


def unlock_user(session: Session, principal: Principal, user_id: int) -> UserRead:
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user_id")
    _check_user_admin(principal, user.unit_id, [])
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    ledger.record(
        session, actor_of(principal), "user.unlock", object_type="user", object_id=user.username
    )
    return _user_reads(session, [user])[0]


def _principal(
    session: Session, user: User, *, via: str, key: ApiKey | None = None, csrf: str | None = None
) -> Principal:
    roles = frozenset(
        Role(r) for r in repository.roles_of(session, [user.id])[user.id] if r in Role.__members__
    )
    permissions = permissions_for(roles)
    if key is not None and key.scopes:
        # a scoped key may use only the scopes its owner still holds
        permissions = (
            frozenset(key.scopes) if "*" in permissions else permissions & frozenset(key.scopes)
        )
    unit_code = ""
    if user.unit_id is not None:
        unit_code = orgs.unit_code(session, user.unit_id)
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        unit_id=user.unit_id,
        unit_code=unit_code,
        roles=roles,
        permissions=permissions,
        via=via,
        api_key_id=key.id if key else None,
        csrf_token=csrf,
    )


def principal_for(session: Session, username: str) -> Principal:
    """Act as a user without signing in: for the platform's own work (the demo, commands)."""
    user = repository.get_user_by_username(session, username)
    if user is None:
        raise NotFound(f"no user {username}", field="username")
    return _principal(session, user, via="system")


# --- login and console sessions ----------------------------------------------------------------


@dataclass(frozen=True)
class LoginOutcome:
    principal: Principal | None
    error: str | None = None  # "wrong_credentials", "locked", "inactive"
    locked_until: datetime | None = None
    token: str | None = None


def login(
    session: Session, settings: Settings, username: str, password: str, *, ip: str = ""
) -> LoginOutcome:
    """Check a password and open a console session. Failures are recorded, not raised, so that
    the caller commits the failure count and its ledger entry before answering."""
    now = datetime.now(UTC)
    user = repository.get_user_by_username(session, username.strip())
    if user is None:
        _hasher.hash(password)  # same cost as a real check: no user enumeration by timing
        ledger.record(
            session, Actor(name=username[:100]), "login.failure", object_type="user",
            object_id=username[:100], details={"ip": ip, "reason": "unknown user"},
        )  # fmt: skip
        return LoginOutcome(None, "wrong_credentials")
    actor = Actor(name=user.username)
    if user.locked_until is not None and user.locked_until > now:
        ledger.record(
            session, actor, "login.refused", object_type="user", object_id=user.username,
            details={"ip": ip, "reason": "locked"},
        )  # fmt: skip
        return LoginOutcome(None, "locked", user.locked_until)
    if not _verify_password(user.password_hash, password):
        user.failed_logins += 1
        details: dict[str, object] = {"ip": ip, "failed_logins": user.failed_logins}
        action = "login.failure"
        if user.failed_logins >= settings.identity.max_failed_logins:
            user.locked_until = now + timedelta(minutes=settings.identity.lockout_minutes)
            user.failed_logins = 0
            action = "login.lockout"
            details["locked_until"] = user.locked_until.isoformat()
        session.flush()
        ledger.record(
            session, actor, action, object_type="user", object_id=user.username, details=details
        )
        if action == "login.lockout":
            return LoginOutcome(None, "locked", user.locked_until)
        return LoginOutcome(None, "wrong_credentials")
    if not user.active:
        ledger.record(
            session, actor, "login.refused", object_type="user", object_id=user.username,
            details={"ip": ip, "reason": "inactive"},
        )  # fmt: skip
        return LoginOutcome(None, "inactive")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    return _open_session(session, settings, user, ip=ip, now=now)


def _open_session(
    session: Session, settings: Settings, user: User, *, ip: str, now: datetime,
    details: dict[str, object] | None = None,
) -> LoginOutcome:  # fmt: skip
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    repository.add(
        session,
        ConsoleSession(
            token_hash=_sha256(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=settings.web.session_hours),
            ip=ip[:64],
        ),
    )
    principal = _principal(session, user, via="session", csrf=csrf)
    ledger.record(
        session, actor_of(principal), "login.success", object_type="user",
        object_id=user.username, details={"ip": ip, **(details or {})},
    )  # fmt: skip
    return LoginOutcome(principal, token=token)


def open_session_for(
    session: Session, settings: Settings, user_id: int, *, ip: str = "",
    method: str, details: dict[str, object] | None = None,
) -> LoginOutcome:  # fmt: skip
    """Open a console session for a user whose identity another check has proven (a citizen's
    one-time code sent by SMS to his verified phone): the caller vouches for the proof, named
    by ``method`` on the ledger. An inactive or locked account is refused as at ``login``."""
    user = repository.get_user(session, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}", field="user")
    now = datetime.now(UTC)
    if not user.active or (user.locked_until is not None and user.locked_until > now):
        reason = "inactive" if not user.active else "locked"
        ledger.record(
            session, Actor(name=user.username), "login.refused", object_type="user",
            object_id=user.username, details={"ip": ip, "reason": reason, "method": method},
        )  # fmt: skip
        return LoginOutcome(None, reason, user.locked_until)
    return _open_session(session, settings, user, ip=ip, now=now,
                         details={"method": method, **(details or {})})  # fmt: skip


def logout(session: Session, principal: Principal, token: str) -> None:
    repository.delete_console_session(session, _sha256(token))
    ledger.record(
        session, actor_of(principal), "logout", object_type="user", object_id=principal.username
    )


def principal_from_session(session: Session, token: str) -> Principal | None:
    found = repository.console_session_with_user(session, _sha256(token))
    if found is None:
        return None
    row, user = found
    if row.expires_at <= datetime.now(UTC) or not user.active:
        return None
    return _principal(session, user, via="session", csrf=row.csrf_token)


def purge_expired_sessions(session: Session) -> int:
    return repository.delete_expired_sessions(session, datetime.now(UTC))


def change_own_password(
    session: Session, principal: Principal, current_password: str, new_password: str
) -> None:
    """A user changes their own password; every session of theirs ends, this one included."""
    if principal.via != "session":
        raise Forbidden("a password is changed from a signed-in session, not with an API key")
    user = repository.get_user(session, principal.user_id)
    if user is None or not _verify_password(user.password_hash, current_password):
        raise InvalidInput("the current password is not right", field="current_password")
    if len(new_password) < 10:
        raise InvalidInput("use at least 10 characters", field="new_password")
    if new_password == current_password:
        raise InvalidInput("choose a password you have not been using", field="new_password")
    user.password_hash = hash_password(new_password)
    user.updated_at = datetime.now(UTC)
    repository.delete_sessions_of(session, user.id)
    session.flush()
    ledger.record(
        session, actor_of(principal), "user.password_change", object_type="user",
        object_id=user.username,
    )  # fmt: skip


def check_csrf(principal: Principal, token: str | None) -> bool:
    return (
        principal.csrf_token is not None
        and token is not None
        and hmac.compare_digest(principal.csrf_token, token)
    )


# --- API keys ----------------------------------------------------------------------------------


def _key_read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead.model_validate(key)


def create_api_key(
    session: Session, settings: Settings, principal: Principal, data: ApiKeyCreate
) -> ApiKeyCreated:
    """A key for the principal's own user. Scopes must be permissions the user holds."""
    require_permission(principal, KEYS_OWN)
    if principal.via == "api_key":
        raise Forbidden("API keys are created from a signed-in session, not with a key")
    unknown = [s for s in data.scopes if s not in PERMISSIONS]
    if unknown:
        raise InvalidInput(f"unknown permission {unknown[0]}", field="scopes")
    not_held = [s for s in data.scopes if not principal.can(s)]
    if not_held:
        raise Forbidden(f"you do not hold {not_held[0]} yourself", field="scopes")
    now = datetime.now(UTC)
    days = data.expires_in_days or settings.identity.api_key_days
    return _make_key(session, principal, data.name, data.scopes, now + timedelta(days=days))


def issue_delegated_key(
    session: Session, principal: Principal, name: str, scopes: list[str], expires_at: datetime
) -> ApiKeyCreated:
    """A short-lived key of the principal's own user that a domain's verb hands over as a
    bearer token (a data-space transfer's data address), asked for with a key or a session.
    Its scopes are named and must be permissions the principal holds now (a key's: within its
    own scopes), so it never carries more than the caller could do."""
    unknown = [s for s in scopes if s not in PERMISSIONS]
    not_held = [s for s in scopes if not principal.can(s)]
    if not scopes or unknown or not_held:
        raise Forbidden(f"a delegated key needs permissions held: {(unknown + not_held)[:1]}",
                        field="scopes")  # fmt: skip
    return _make_key(session, principal, name, scopes, expires_at)


def _make_key(
    session: Session, principal: Principal, name: str, scopes: list[str], expires_at: datetime
) -> ApiKeyCreated:
    now = datetime.now(UTC)
    prefix = secrets.token_hex(6)
    secret = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        prefix=prefix,
        secret_hash=_sha256(secret),
        name=name,
        user_id=principal.user_id,
        scopes=sorted(set(scopes)),
        created_at=now,
        expires_at=expires_at,
    )
    repository.add(session, key)
    ledger.record(
        session, actor_of(principal), "api_key.create", object_type="api_key",
        object_id=prefix, details={"name": name, "scopes": key.scopes,
                                   "expires_at": key.expires_at.isoformat()},
    )  # fmt: skip
    return ApiKeyCreated(**_key_read(key).model_dump(), secret=secret)


def list_api_keys(
    session: Session, principal: Principal, *, all_users: bool = False
) -> list[ApiKeyRead]:
    if all_users and principal.has_role(Role.platform_admin):
        return [_key_read(k) for k in repository.list_api_keys(session)]
    return [_key_read(k) for k in repository.list_api_keys(session, user_id=principal.user_id)]


def revoke_api_key(session: Session, principal: Principal, key_id: int) -> ApiKeyRead:
    key = repository.get_api_key(session, key_id)
    if key is None or (
        key.user_id != principal.user_id and not principal.has_role(Role.platform_admin)
    ):
        raise NotFound(f"no API key {key_id}", field="key_id")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
        ledger.record(
            session, actor_of(principal), "api_key.revoke", object_type="api_key",
            object_id=key.prefix,
        )  # fmt: skip
    return _key_read(key)


def revoke_delegated_key(session: Session, actor: Actor, key_id: int) -> None:
    """End a key ``issue_delegated_key`` handed over, when what it served has ended (the
    transfer completed or terminated): by the domain's verb, whoever called it."""
    key = repository.get_api_key(session, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
        ledger.record(session, actor, "api_key.revoke", object_type="api_key",
                      object_id=key.prefix)  # fmt: skip


def principal_from_api_key(session: Session, raw: str) -> Principal | None:
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    found = repository.api_key_with_user(session, parts[1])
    if found is None:
        return None
    key, user = found
    if not hmac.compare_digest(key.secret_hash, _sha256(raw)):
        return None
    if key.revoked_at is not None or key.expires_at <= datetime.now(UTC) or not user.active:
        return None
    return _principal(session, user, via="api_key", key=key)


def display_names(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """Username → the name a page shows (usernames unknown here, a system's or a deleted
    account's, are left out: the page shows the username)."""
    return repository.display_names(session, usernames)


def count_users(session: Session) -> int:
    return repository.count_users(session)
