from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput
from citybase.core.identity import service
from citybase.core.identity.models import ApiKey
from citybase.core.identity.schemas import ApiKeyCreate, Role, UserCreate, UserUpdate
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.settings import Settings
from tests.core.identity.factories import PASSWORD, make_user, principal_of
from tests.core.orgs.factories import make_small_city


def _actions(session: Session, username: str) -> list[str]:
    entries, _ = ledger.find_entries(session, LedgerFilter(object_id=username, limit=100))
    return [e.action for e in reversed(entries)]


def test_passwords_are_argon2_hashed(session: Session) -> None:
    make_user(session, "alice", Role.viewer)
    from citybase.core.identity.models import User

    row = session.query(User).filter_by(username="alice").one()
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash


def test_login_success_and_failure_are_on_the_ledger(session: Session, settings: Settings) -> None:
    make_small_city(session)
    make_user(session, "alice", Role.data_steward, unit="fz.bigdata")
    bad = service.login(session, settings, "alice", "wrong password", ip="10.0.0.1")
    assert bad.principal is None
    assert bad.error == "wrong_credentials"
    good = service.login(session, settings, "alice", PASSWORD, ip="10.0.0.1")
    assert good.principal is not None
    assert good.token
    assert good.principal.unit_code == "fz.bigdata"
    assert service.principal_from_session(session, good.token) is not None
    assert _actions(session, "alice") == ["user.create", "login.failure", "login.success"]
    unknown = service.login(session, settings, "nobody", "x")
    assert unknown.error == "wrong_credentials"  # same answer as a wrong password


def test_lockout_after_repeated_failures(session: Session, settings: Settings) -> None:
    make_user(session, "bob", Role.viewer)
    for _ in range(settings.identity.max_failed_logins - 1):
        assert service.login(session, settings, "bob", "nope").error == "wrong_credentials"
    locked = service.login(session, settings, "bob", "nope")
    assert locked.error == "locked"
    assert locked.locked_until is not None
    # the right password does not get in while locked
    assert service.login(session, settings, "bob", PASSWORD).error == "locked"
    assert "login.lockout" in _actions(session, "bob")
    admin = make_user(session, "root", Role.platform_admin)
    service.unlock_user(
        session,
        principal_of(session, admin.username),
        service.get_user_by_username(session, "bob").id,
    )
    assert service.login(session, settings, "bob", PASSWORD).principal is not None


def test_inactive_users_cannot_sign_in(session: Session, settings: Settings) -> None:
    user = make_user(session, "carol", Role.viewer)
    service.update_user(session, None, user.id, UserUpdate(active=False))
    assert service.login(session, settings, "carol", PASSWORD).error == "inactive"


def test_roles_give_permissions(session: Session) -> None:
    make_user(session, "sup", Role.supervisor)
    make_user(session, "view", Role.viewer)
    sup = principal_of(session, "sup")
    view = principal_of(session, "view")
    assert sup.can(service.LEDGER_READ)
    assert sup.can(service.ORGS_READ)
    assert not view.can(service.LEDGER_READ)
    assert not view.can(service.KEYS_OWN)
    assert principal_of(session, make_user(session, "root", Role.platform_admin).username).can(
        "anything:at_all"
    )


def test_unit_admin_manages_only_their_unit(session: Session) -> None:
    make_small_city(session)
    make_user(session, "uadmin", Role.unit_admin, unit="fz.urban")
    ua = principal_of(session, "uadmin")
    created = service.create_user(
        session, ua,
        UserCreate(username="clerk", display_name="Clerk", password=PASSWORD,
                   unit_code="fz.urban", roles=[Role.case_handler]),
    )  # fmt: skip
    assert created.unit_code == "fz.urban"
    with pytest.raises(Forbidden):
        service.create_user(
            session, ua,
            UserCreate(username="other", display_name="O", password=PASSWORD,
                       unit_code="fz.bigdata", roles=[]),
        )  # fmt: skip
    with pytest.raises(Forbidden):
        service.update_user(session, ua, created.id, UserUpdate(roles=[Role.platform_admin]))
    with pytest.raises(Conflict):
        make_user(session, "clerk")


def test_cannot_lock_yourself_out(session: Session) -> None:
    root = make_user(session, "root", Role.platform_admin)
    me = principal_of(session, "root")
    with pytest.raises(InvalidInput):
        service.update_user(session, me, root.id, UserUpdate(active=False))
    with pytest.raises(InvalidInput):
        service.update_user(session, me, root.id, UserUpdate(roles=[Role.viewer]))


def test_api_keys_are_hashed_scoped_and_expire(session: Session, settings: Settings) -> None:
    make_user(session, "sup", Role.supervisor)
    sup = principal_of(session, "sup")
    created = service.create_api_key(
        session, settings, sup, ApiKeyCreate(name="report", scopes=[service.ORGS_READ])
    )
    row = session.get(ApiKey, created.id)
    assert row is not None
    assert created.secret not in row.secret_hash
    via_key = service.principal_from_api_key(session, created.secret)
    assert via_key is not None
    assert via_key.via == "api_key"
    assert via_key.permissions == frozenset({service.ORGS_READ})
    assert service.principal_from_api_key(session, created.secret + "x") is None
    assert service.principal_from_api_key(session, "garbage") is None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    assert service.principal_from_api_key(session, created.secret) is None


def test_keys_cannot_exceed_their_owner(session: Session, settings: Settings) -> None:
    make_user(session, "handler", Role.case_handler)
    handler = principal_of(session, "handler")
    with pytest.raises(Forbidden):
        service.create_api_key(
            session, settings, handler, ApiKeyCreate(name="x", scopes=[service.LEDGER_READ])
        )
    with pytest.raises(InvalidInput):
        service.create_api_key(
            session, settings, handler, ApiKeyCreate(name="x", scopes=["no:such"])
        )


def test_revoked_key_stops_working_and_is_on_the_ledger(
    session: Session, settings: Settings
) -> None:
    make_user(session, "sup", Role.supervisor)
    sup = principal_of(session, "sup")
    created = service.create_api_key(session, settings, sup, ApiKeyCreate(name="x"))
    service.revoke_api_key(session, sup, created.id)
    assert service.principal_from_api_key(session, created.secret) is None
    assert _actions(session, created.prefix) == ["api_key.create", "api_key.revoke"]


def test_changing_ones_own_password(session: Session, settings: Settings) -> None:
    make_user(session, "ivy", Role.viewer)
    outcome = service.login(session, settings, "ivy", PASSWORD)
    assert outcome.principal is not None
    with pytest.raises(InvalidInput) as wrong:
        service.change_own_password(session, outcome.principal, "not it", "a brand new secret")
    assert wrong.value.field == "current_password"
    with pytest.raises(InvalidInput) as same:
        service.change_own_password(session, outcome.principal, PASSWORD, PASSWORD)
    assert same.value.field == "new_password"
    service.change_own_password(session, outcome.principal, PASSWORD, "a brand new secret")
    assert outcome.token is not None
    assert service.principal_from_session(session, outcome.token) is None  # signed out
    assert service.login(session, settings, "ivy", "a brand new secret").principal is not None
    assert "user.password_change" in _actions(session, "ivy")


def test_expired_sessions_are_purged(session: Session, settings: Settings) -> None:
    make_user(session, "jon", Role.viewer)
    outcome = service.login(session, settings, "jon", PASSWORD)
    assert outcome.token is not None
    from citybase.core.identity.models import ConsoleSession

    row = session.query(ConsoleSession).one()
    row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.flush()
    assert service.purge_expired_sessions(session) == 1
    assert service.principal_from_session(session, outcome.token) is None
