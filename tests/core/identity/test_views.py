from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from tests.core.identity.factories import login_token, make_user, sign_in


def test_console_redirects_to_login(client: TestClient) -> None:
    response = client.get("/console/units", headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/console/units"


def test_wrong_password_and_lockout_messages(
    client: TestClient, session: Session, settings: Settings
) -> None:
    make_user(session, "dora", Role.viewer)
    form = {"username": "dora", "password": "nope", "login_token": login_token(client)}
    wrong = client.post("/login", data=form)
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text
    for _ in range(settings.identity.max_failed_logins):
        last = client.post("/login", data=form)
    assert last.status_code == 423
    assert "锁定" in last.text


def test_session_cookie_is_http_only_and_logout_ends_it(
    client: TestClient, session: Session
) -> None:
    make_user(session, "erin", Role.viewer)
    response = client.post(
        "/login",
        data={"username": "erin", "password": "correct horse battery",
              "login_token": login_token(client)},
        follow_redirects=False,
    )  # fmt: skip
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    csrf = sign_in(client, "erin")
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_next_only_goes_to_this_site(client: TestClient, session: Session) -> None:
    make_user(session, "fay", Role.viewer)
    response = client.post(
        "/login",
        data={
            "username": "fay",
            "password": "correct horse battery",
            "next": "//evil.example",
            "login_token": login_token(client),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_api_key_page_shows_the_secret_once(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    make_user(session, "gus", Role.supervisor)
    csrf = sign_in(client, "gus")
    page = client.post(
        "/console/keys", data={"csrf_token": csrf, "form_token": form_token(), "name": "report"}
    )
    assert page.status_code == 200
    assert 'id="new-key">cb_' in page.text
    assert 'id="new-key"' not in client.get("/console/keys").text


def test_user_form_validation(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    make_user(session, "root", Role.platform_admin)
    csrf = sign_in(client, "root")
    page = client.post(
        "/console/users/new",
        data={
            "csrf_token": csrf,
            "form_token": form_token(),
            "username": "x",
            "display_name": "X",
            "password": "short",
        },
    )
    assert page.status_code == 422
    assert "至少应有 10 个字符" in page.text  # the reason in the page's language


def test_language_switch(client: TestClient, session: Session) -> None:
    make_user(session, "hal", Role.viewer)
    sign_in(client, "hal")
    assert "行政区划" in client.get("/console/regions").text
    client.get("/lang/en?next=/console/regions")
    assert "Regions" in client.get("/console/regions").text


def test_account_page_changes_the_password(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    make_user(session, "kim", Role.viewer)
    csrf = sign_in(client, "kim")
    assert "修改密码" in client.get("/console/account").text
    once = form_token()  # the refused sending gives it back: the corrected page sends it again
    wrong = client.post(
        "/console/account/password",
        data={"csrf_token": csrf, "form_token": once, "current_password": "nope",
              "new_password": "another long one"},
    )  # fmt: skip
    assert wrong.status_code == 422
    done = client.post(
        "/console/account/password",
        data={"csrf_token": csrf, "form_token": once, "current_password": "correct horse battery",
              "new_password": "another long one"},
    )  # fmt: skip
    assert done.status_code == 200
    assert "密码已修改" in done.text
    assert client.get("/api/v1/me").status_code == 401
    sign_in(client, "kim", "another long one")
