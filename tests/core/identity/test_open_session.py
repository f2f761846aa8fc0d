"""A session opened on another proof than a password (a citizen's SMS code)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.identity import service
from citybase.core.identity.models import User
from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from tests.core.identity.factories import make_user


def test_a_session_opens_for_an_active_account_only(session: Session, settings: Settings) -> None:
    user = make_user(session, "walker", Role.applicant)
    opened = service.open_session_for(session, settings, user.id, ip="10.0.0.1", method="sms")
    assert opened.token is not None
    assert opened.principal is not None
    assert service.principal_from_session(session, opened.token) is not None
    row = session.get(User, user.id)
    assert row is not None
    row.active = False
    session.flush()
    refused = service.open_session_for(session, settings, user.id, method="sms")
    assert refused.token is None
    assert refused.error == "inactive"
