"""Every console form, and every public form answered as a page, sent wrong on purpose in Chinese:
what the page then says (its error notices, or the error page it lands on) holds no English
sentence and no field's name as the code spells it.

The forms are found by walking the app's routes: each POST route of the console and of the public
pages is sent twice, once empty and once with every field its page offers filled with nonsense,
as a platform admin of a small city with one published, graded resource. A path parameter this
file has no value for fails the walk (``PARAMS``), so a new form is walked from the day it is
added.
"""

from __future__ import annotations

import html
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.app import create_app
from citybase.core.settings import Settings
from citybase.core.web.access import iter_routes
from citybase.data.products import service as products
from citybase.data.products.schemas import AssetCreate, NegotiationCreate, ScenarioCreate
from tests.core.identity.factories import sign_in
from tests.data.products.factories import add_customers, contract_for, listed_product, products_city
from tests.data.sharing.factories import shared_city

# not forms of a page: signing in and out
SKIP = ("/login", "/logout")
# the public pages whose forms answer as pages
PUBLIC = ("/open/", "/hotline", "/onething", "/evaluation", "/certificates")

# a value for each path parameter; a thing the small city lacks is answered as "not found",
# which must be in Chinese too (the data products' forms get real ones: ``_products``)
PARAMS = {
    "code": "{resource}", "number": "9", "indicator_id": "9", "actual_id": "9", "task_id": "9",
    "user_id": "9", "key_id": "9", "rating_id": "9", "answer_id": "9", "review_id": "9", "dispute_id": "9",
    "source_id": "9", "conflict_id": "9", "hotspot_id": "9", "version_id": "9", "grant_id": "9",
    "verb": "withdraw", "action": "submit", "fmt": "csv", "identifier": "9",
    "type_code": "9", "matter": "9", "product_id": "9", "agreement_id": "9", "asset_id": "9",
    "scenario_id": "9", "contract_id": "9", "negotiation_id": "9", "output_id": "9",
    "release_id": "9", "job_id": "9",
}  # fmt: skip

NOTICE = re.compile(r'<(p|div|span|li) class="notice error"[^>]*>(.*?)</\1>', re.S)
LATIN = re.compile(r"[A-Za-z_]{3,}")
FIELD = re.compile(r'<(?:input|textarea|select)\b[^>]*\bname="([^"]+)"[^>]*>', re.S)
FORM = re.compile(r'<form\b[^>]*\bmethod="post"[^>]*>(.*?)</form>', re.S | re.I)
# Latin words that are not English: a unit's code, a file kind, an NGSI-LD or data type
ALLOWED = {
    "xlsx",
    "csv",
    "json",
    "yaml",
    "yml",
    "geojson",
    "xml",
    "pdf",
    "API",
    "CSV",
    "JSON",
    "YAML",
    "URL",
}


def _notices(page: str) -> list[str]:
    """The text of the page's error notices, less the codes shown to be copied (in ``.mono``)."""
    found = []
    for m in NOTICE.finditer(page):
        text = re.sub(r'<span class="mono">[^<]*</span>', " ", m.group(2))
        found.append(" ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split()))
    return found


def _english(text: str, fields: set[str]) -> list[str]:
    found = []
    for word in LATIN.findall(text):
        if word in ALLOWED or word.startswith("fz") or word.endswith("urban"):
            continue
        kind = "field" if word in fields else "word"
        found.append(f"{kind} {word!r} in {text!r}")
    return found


def _post_routes(app: Any) -> list[str]:
    paths = set()
    for path, route in iter_routes(app.routes):
        if "POST" not in (getattr(route, "methods", None) or set()):
            continue
        if path.startswith(("/console", *PUBLIC)) and not path.startswith(SKIP):
            paths.add(path)
    return sorted(paths)


ROUTES = _post_routes(create_app(Settings(home=Path(tempfile.mkdtemp()))))


# a step each products' form may take on those things, so that it is the step that is refused
STEPS = {"/console/products/negotiations/": "terminate", "/console/products/agreements/": "suspend",
         "/console/products/": "delist"}  # fmt: skip


def _products(session: Session, settings: Settings, route: str) -> dict[str, str]:
    """The small city with data products: a listed product, its operation agreement (授权运营
    协议), a finalized contract and a negotiation under way, a scenario and a data asset — so
    that the products' forms are walked on real things, not on "not found" pages."""
    city = products_city(session, settings)
    add_customers(session, city)
    s = city.settings.products
    product = listed_product(session, city)
    contract = contract_for(session, city, product)
    asked = products.request_product(session, city.people["cud"], product,
                                     NegotiationCreate(purpose="城市治理", scenario="井盖巡查"))  # fmt: skip
    scenario = products.create_scenario(session, city.bureau, s, ScenarioCreate(
        name="城市部件智能巡检", sector="城市治理", owner_unit_code="fz.urban"))  # fmt: skip
    asset = products.record_asset(session, city.people["urbansteward"], AssetCreate(
        subject_kind="resource", subject_code=city.manholes.code, cost_yuan=Decimal("120000"),
        expected_benefit_yuan=Decimal("300000"), method="cost", value_yuan=Decimal("120000")))  # fmt: skip
    return {"resource": city.personal.code, "product_id": str(product),
            "agreement_id": str(city.agreement.id), "contract_id": str(contract),
            "negotiation_id": str(asked.id), "scenario_id": str(scenario.id),
            "asset_id": str(asset.id),
            "action": next(step for prefix, step in STEPS.items() if route.startswith(prefix))}  # fmt: skip


def _fields_of(page: str, action: str) -> set[str]:
    names: set[str] = set()
    for form in re.finditer(r"<form\b([^>]*)>(.*?)</form>", page, re.S):
        if f'action="{action}"' in form.group(1) or "action=" not in form.group(1):
            names |= set(FIELD.findall(form.group(2)))
    return names - {"csrf_token", "form_token", "login_token", "captcha_token"}


@pytest.mark.parametrize("route", ROUTES)
def test_a_form_sent_wrong_answers_in_chinese(
    client: TestClient, session: Session, settings: Settings, form_token, route: str
) -> None:  # type: ignore[no-untyped-def]
    settings.hub.portal_captcha = False
    if route.startswith("/console/products"):
        real = _products(session, settings, route)
    else:
        real = {"resource": shared_city(session).resource.code}
    csrf = sign_in(client, "root")
    values = {k: v.format(resource=real["resource"]) for k, v in PARAMS.items()}
    values |= {k: v for k, v in real.items() if k in PARAMS}
    unknown = set(re.findall(r"\{(\w+)\}", route)) - set(values)
    assert not unknown, f"{route}: no value to walk it with for {unknown} (PARAMS)"
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route)
    page = client.get(path, headers={"Accept": "text/html"})
    fields = _fields_of(page.text, path) if page.status_code == 200 else set()
    nonsense = {f: "x" for f in fields} | {"year": "-1", "month": "13"} if fields else {}
    problems: list[str] = []
    for data in ({}, nonsense):
        answer = client.post(
            path, data={"csrf_token": csrf, "form_token": form_token(), **data},
            headers={"Accept": "text/html"},
        )  # fmt: skip
        assert answer.status_code < 500, f"{path}: {answer.status_code}"
        # walked on real things, the form itself answers (a contract's file is not there to
        # be fetched until one is delivered: its 404 is the download's own answer)
        if len(real) > 1 and not path.endswith("/file"):
            assert answer.status_code != 404, f"{path}: {answer.text[:300]}"
        for text in _notices(answer.text):
            problems += _english(text, fields | set(data))
    assert problems == [], f"{route}:\n" + "\n".join(sorted(set(problems)))
