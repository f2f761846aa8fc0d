"""Every demo role signs in and follows every link its navigation and its home page offer: none
may lead to a page it may not open (403), to nothing (404) or back to the sign-in form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from citybase.app import create_app
from citybase.core.runtime import open_database
from citybase.core.settings import Settings
from citybase.demo.seed import DEMO_PASSWORD, DEMO_USERS, build_demo

LINK = re.compile(r'<a [^>]*href="(/[^"#]*)"')
SKIP = ("/logout", "/static/", "/docs", "/redoc", "/openapi.json")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    home = tmp_path_factory.mktemp("every-link")
    settings = Settings(home=Path(home), database_url=f"sqlite:///{home / 'citybase.db'}")
    db = open_database(settings)
    build_demo(db, settings)
    db.dispose()
    return settings


def _sign_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = client.post("/login", data={"username": username, "password": DEMO_PASSWORD,
                                         "next": "/", "login_token": token.group(1)},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text


@pytest.mark.parametrize("username", [u.username for u in DEMO_USERS])
def test_every_link_a_role_is_shown_opens(settings: Settings, username: str) -> None:
    with TestClient(create_app(settings, run_worker=False)) as client:
        _sign_in(client, username)
        home = client.get("/")
        assert home.status_code == 200
        links = {h.replace("&amp;", "&") for h in LINK.findall(home.text)}
        broken = []
        for href in sorted(links):
            if href.startswith(SKIP):
                continue
            answer = client.get(href, follow_redirects=False)
            location = answer.headers.get("location", "")
            if answer.status_code in (401, 403, 404) or "/login" in location:
                broken.append(f"{href} → {answer.status_code} {location}")
        assert not broken, f"{username} is shown links it cannot open: {broken}"


# what the demo city leaves waiting on each role's desk (its home page), by the desk's words
DESKS = {
    "handler": ["待签收工单"],
    "operator": ["已答复待回访的工单"],
    "supervisor": ["超期工单"],
    "steward": ["待审核的共享申请"],
    "admin": ["待审核的数据资源", "待审核的指标填报"],
}


@pytest.mark.parametrize("username", sorted(DESKS))
def test_each_role_starts_at_what_waits_for_it(settings: Settings, username: str) -> None:
    """The home page is the role's desk: what waits for it, with how many and since when, the
    longest waiting first, each a link to the list to act on; a role that nothing waits for is
    told so."""
    with TestClient(create_app(settings, run_worker=False)) as client:
        _sign_in(client, username)
        home = client.get("/").text
        desk = home[home.index('id="desk-title"') : home.index("</section>")]
        for label in DESKS[username]:
            assert label in desk, f"{username}: {label} not on the desk"
        rows = re.findall(
            r'<tr><td><a href="([^"]+)">[^<]+</a></td><td class="figure">(\d+)<', desk
        )
        assert rows
        assert all(int(n) > 0 for _, n in rows)
        since = re.findall(r"<td>(\d{4}-\d{2}-\d{2} \d{2}:\d{2})", desk)
        assert since == sorted(since)  # the longest waiting first
        _sign_in(client, "viewer")  # watches the city: nothing waits for it
        assert "暂无待办事项" in client.get("/").text


def test_the_ledger_names_what_was_done(settings: Settings) -> None:
    """The auditor reads the demo's ledger by the actions' and objects' names in Chinese, each
    action's code kept beside it for copying."""
    with TestClient(create_app(settings, run_worker=False)) as client:
        _sign_in(client, "auditor")
        latin = re.compile(r"[A-Za-z_]{3,}")
        unnamed: set[str] = set()
        for page in range(1, 40):
            text = client.get("/console/ledger", params={"page": page}).text
            cells = re.findall(r'<td title="([a-z_.]+)">([^<]*)</td><td>([^<]*)<span', text)
            if not cells:
                break
            unnamed |= {f"{code}: {name}{kind}" for code, name, kind in cells
                        if latin.search(name) or latin.search(kind)}  # fmt: skip
        assert page > 1
        assert not unnamed, sorted(unnamed)
