"""Crossing the sign-in: guessing passwords for many accounts from one address, and posting the
sign-in form from another site. Each attempt is refused before the password is checked, and
nothing changes: no session, no failure counted on an account, no ledger entry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.identity.auth import LOGIN_COOKIE, SESSION_COOKIE
from citybase.core.identity.models import ConsoleSession, User
from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.settings import Settings
from tests.core.identity.factories import PASSWORD, login_token, make_user

ACCOUNTS = [f"clerk{i}" for i in range(12)]


def _sessions(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ConsoleSession)) or 0


def _failures(session: Session) -> dict[str, tuple[int, bool]]:
    session.expire_all()
    return {
        u.username: (u.failed_logins, u.locked_until is not None)
        for u in session.scalars(select(User).where(User.username.in_(ACCOUNTS)))
    }


@pytest.fixture
def accounts(session: Session) -> list[str]:
    for name in ACCOUNTS:
        make_user(session, name, Role.viewer)
    return ACCOUNTS


@pytest.fixture
def attacker(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", client=("203.0.113.9", 40000)) as c:
        yield c


def test_guessing_across_accounts_from_one_address_is_throttled(
    attacker: TestClient, session: Session, settings: Settings, accounts: list[str]
) -> None:
    limit = settings.identity.failed_logins_per_address
    token = login_token(attacker)
    answers = []
    for i in range(limit):
        name = accounts[i % len(accounts)]
        form = {"username": name, "password": f"guess{i}", "login_token": token}
        answers.append(attacker.post("/login", data=form).status_code)
    assert set(answers) <= {401, 423}
    locked = sum(1 for _, is_locked in _failures(session).values() if is_locked)
    assert locked <= limit // settings.identity.max_failed_logins

    before_accounts = _failures(session)
    before_sessions = _sessions(session)
    before_ledger = ledger.size(session)
    for name in accounts:  # the next guess, and even the right password, waits
        for password in ("guess", PASSWORD):
            refused = attacker.post(
                "/login",
                data={"username": name, "password": password, "login_token": token},
                headers={"Accept": "application/json"},
            )
            assert refused.status_code == 429
            assert int(refused.headers["Retry-After"]) > 0
            assert refused.json()["error"]["code"] == "too_many_requests"
            assert SESSION_COOKIE not in refused.cookies
    assert _failures(session) == before_accounts
    assert _sessions(session) == before_sessions
    assert ledger.size(session) == before_ledger


def test_the_console_says_so_in_chinese(
    attacker: TestClient, session: Session, settings: Settings, accounts: list[str]
) -> None:
    token = login_token(attacker)
    for _ in range(settings.identity.failed_logins_per_address):
        attacker.post(
            "/login", data={"username": accounts[0], "password": "x", "login_token": token}
        )
    page = attacker.post(
        "/login",
        data={"username": accounts[1], "password": PASSWORD, "login_token": token},
        headers={"Accept": "text/html"},
    )
    assert page.status_code == 429
    assert page.headers["Retry-After"].isdigit()
    assert "登录失败次数过多" in page.text
    assert "分钟后再试" in page.text
    assert SESSION_COOKIE not in page.cookies


def test_another_address_is_not_slowed(
    attacker: TestClient, client: TestClient, session: Session, settings: Settings,
    accounts: list[str],
) -> None:  # fmt: skip
    token = login_token(attacker)
    for _ in range(settings.identity.failed_logins_per_address):
        attacker.post(
            "/login", data={"username": accounts[0], "password": "x", "login_token": token}
        )
    signed_in = client.post(
        "/login",
        data={"username": accounts[5], "password": PASSWORD, "login_token": login_token(client)},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert SESSION_COOKIE in signed_in.cookies


@pytest.mark.parametrize("token", [None, "", "forged", "0" * 64])
def test_a_login_post_without_the_form_token_is_refused(
    client: TestClient, session: Session, accounts: list[str], token: str | None
) -> None:
    login_token(client)  # the browser has its sign-in cookie; the post does not carry its token
    before = (_sessions(session), ledger.size(session), _failures(session))
    form = {"username": accounts[0], "password": PASSWORD}
    if token is not None:
        form["login_token"] = token
    for accept in ("text/html", "application/json"):
        response = client.post(
            "/login", data=form, headers={"Accept": accept}, follow_redirects=False
        )
        assert response.status_code == 403
        assert SESSION_COOKIE not in response.cookies
    assert (_sessions(session), ledger.size(session), _failures(session)) == before


def test_a_token_from_another_browser_is_refused(
    app: FastAPI, client: TestClient, session: Session, accounts: list[str]
) -> None:
    """An attacker loads the page in their own browser and plants its token in a form on their
    site: the victim's browser carries another sign-in cookie, so the token does not match."""
    with TestClient(app, base_url="http://testserver") as own:
        planted = login_token(own)
    login_token(client)
    before = _sessions(session)
    response = client.post(
        "/login",
        data={"username": accounts[0], "password": PASSWORD, "login_token": planted},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert _sessions(session) == before
    client.cookies.delete(LOGIN_COOKIE)  # no cookie at all: refused too
    assert (
        client.post(
            "/login", data={"username": accounts[0], "password": PASSWORD, "login_token": planted}
        ).status_code
        == 403
    )
    assert _sessions(session) == before


def test_the_right_token_signs_in(
    client: TestClient, session: Session, accounts: list[str]
) -> None:
    before = _sessions(session)
    response = client.post(
        "/login",
        data={"username": accounts[0], "password": PASSWORD, "login_token": login_token(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _sessions(session) == before + 1
