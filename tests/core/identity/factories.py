from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity import service
from citybase.core.identity.models import User
from citybase.core.identity.schemas import Principal, Role, UserCreate, UserRead
from citybase.core.ledger.schemas import Actor

PASSWORD = "correct horse battery"


def make_user(
    session: Session,
    username: str,
    *roles: Role,
    unit: str | None = None,
    password: str = PASSWORD,
) -> UserRead:
    return service.create_user(
        session,
        None,
        UserCreate(
            username=username,
            display_name=username.title(),
            password=password,
            unit_code=unit,
            roles=list(roles),
        ),
        actor=Actor.system("test"),
    )


def principal_of(session: Session, username: str) -> Principal:
    user = service.get_user_by_username(session, username)
    row = session.get(User, user.id)
    assert row is not None
    return service._principal(session, row, via="session", csrf="test-csrf")


def login_token(client: TestClient) -> str:
    """The sign-in form's CSRF token, as the login page gives it to this client."""
    page = client.get("/login")
    match = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert match, "no sign-in token on the login page"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign the test client in through the console form; returns the session's CSRF token."""
    response = client.post(
        "/login",
        data={"username": username, "password": password, "next": "/",
              "login_token": login_token(client)},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    page = client.get("/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "no CSRF token on the page"
    return match.group(1)
