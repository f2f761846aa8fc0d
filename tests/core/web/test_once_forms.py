"""Every form that posts carries a form token, and the route it posts to spends it: a create, an
edit done in place or a decision (approve, refuse, sign, handle, review…) sent twice is taken
once, and the second sending lands where the first did.

The templates of every domain are read for ``<form method="post">``; each such form must hold
``{{ form_token() }}`` (or name its action in ``NO_TOKEN``, with the reason), and each POST route
of the console and the public pages must spend the token (the ``FormOnce`` dependency, or a call
of ``claim``) unless it is one of those."""

from __future__ import annotations

import inspect
import re
import tempfile
from pathlib import Path

from fastapi.routing import APIRoute

import citybase
from citybase.app import create_app
from citybase.core.settings import Settings
from citybase.core.web import once
from citybase.core.web.access import iter_routes

# forms that post without making anything, so a second sending is harmless
LOOKUPS = {
    "/login": "signs in (its own one-time login token)",
    "/logout": "signs out",
    "/hotline/track": "looks a case up by its number and phone",
    "/open/applications/follow": "looks an application up",
    "/open/{code}/download.{fmt}": "downloads under an approved application (each one traced)",
    "/certificates/verify": "checks a certificate",
    "/certificates/mine": "looks one's certificates up",
    "/console/hub/cases/{number}/contact": "shows the reporter's contact (each showing traced)",
    "/onething/items/{code}/form": "shows the one form pre-filled under consent (traced)",
    "/console/products/contracts/{contract_id}/file": "downloads a contract's file (traced)",
    "/portal/signin": "signs a citizen in by SMS code (the sign-in form's own token)",
    "/portal/register": "checks a citizen's real name, then signs in (the sign-in form's token)",
}
NO_TOKEN = set(LOOKUPS)

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
ACTION = re.compile(r'\baction="([^"]*)"')


def _template_forms() -> list[tuple[str, str, bool]]:
    """(template, action with its Jinja expressions as ``{…}``, holds a token) per POST form."""
    found = []
    root = Path(citybase.__file__).parent
    for path in sorted(root.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for form in FORM.finditer(text):
            if 'method="post"' not in form.group(1).lower():
                continue
            action = ACTION.search(form.group(1))
            target = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "{}", action.group(1)) if action else ""
            found.append((str(path.relative_to(root)), target, "form_token()" in form.group(2)))
    return found


def _matches(action: str, route: str) -> bool:
    pattern = re.sub(r"\\\{\\\}|\\\{\w+\\\}", "[^/]+", re.escape(route))
    shape = re.sub(r"\{\}", "x", action).split("?")[0]
    return re.fullmatch(pattern, shape) is not None


def test_every_post_form_carries_a_token() -> None:
    missing = [
        f"{template}: {action or '(its own page)'}"
        for template, action, has_token in _template_forms()
        if not has_token and not any(_matches(action, r) for r in NO_TOKEN)
    ]
    assert missing == [], "POST forms without {{ form_token() }}:\n" + "\n".join(missing)


def _spends_token(route: APIRoute) -> bool:
    calls = [d.call for d in route.dependant.dependencies]
    if once.claim_submitted in calls:
        return True
    source = inspect.getsource(route.endpoint)
    return re.search(r"\b(claim|claim_token|_make_once)\(", source) is not None


def test_every_console_post_route_spends_the_token() -> None:
    app = create_app(Settings(home=Path(tempfile.mkdtemp())))
    missing = []
    for path, route in iter_routes(app.routes):
        if not isinstance(route, APIRoute) or "POST" not in route.methods:
            continue
        if not path.startswith(("/console/", "/open/", "/hotline", "/onething", "/evaluation",
                                "/certificates")) or path in NO_TOKEN:  # fmt: skip
            continue
        if not _spends_token(route):
            missing.append(f"{path} ({route.endpoint.__module__}.{route.endpoint.__name__})")
    assert missing == [], "POST routes that do not spend the form token:\n" + "\n".join(
        sorted(missing)
    )


def test_the_walk_can_fail() -> None:
    """The two walks see a form without a token and a route that takes none."""
    assert any(not has_token for _, _, has_token in _template_forms())
    assert _matches(
        "/console/cockpit/actuals/{}/decision", "/console/cockpit/actuals/{actual_id}/decision"
    )
