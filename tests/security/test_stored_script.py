"""Stored script: markup and ``javascript:`` links typed into every text that the console and
the public pages show back — resources, cases (and their files' names, replies), knowledge
entries, units, plans, portal requests. Each comes back escaped (Jinja's autoescape; no
``|safe`` or ``Markup`` lets it through), and a link is only ever an http(s) address."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.orm import Session

from citybase.core.identity.schemas import Role
from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.data.catalog import service as catalog
from citybase.data.search import service as search
from tests.cockpit.factories import PLAN, city, load
from tests.core.files.factories import photo
from tests.core.identity.factories import make_user
from tests.core.orgs.factories import make_unit
from tests.data.catalog.factories import catalog_people, make_published
from tests.data.opendata.factories import open_datasets
from tests.security.people import act_as, demo_city

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "'><svg onload=alert(3)>"
PAYLOADS = [SCRIPT, IMG, SVG]
LINKS = ["javascript:alert(4)", " JavaScript:alert(4)", "\tjavascript:alert(4)",
         "data:text/html,<script>alert(4)</script>", "vbscript:msgbox(4)"]  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "data"}


class Live(HTMLParser):
    """What in a page would run: a script element other than the app's own files and its JSON
    data blocks (a map's layers; these must hold no raw ``<``, so that nothing in them can end
    the block), an event-handler attribute (the pages have none of their own), the payloads'
    picture, a script URL in a link or source."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.in_data = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        own_script = tag == "script" and (given.get("src") or "").startswith("/static/")
        self.in_data = tag == "script" and given.get("type") == "application/json"
        if (tag == "script" and not (own_script or self.in_data)) or (
            tag == "img" and ("src", "x") in attrs
        ):
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            text = "".join((value or "").split()).lower()
            if name.startswith("on"):
                self.found.append(f"{tag} {name}={value}")
            if name in URL_ATTRIBUTES and text.startswith(("javascript:", "vbscript:",
                                                           "data:text")):  # fmt: skip
                self.found.append(f"{tag} {name}={value}")

    def handle_data(self, data: str) -> None:
        if self.in_data and "<" in data:
            self.found.append(f"raw < in a data block: {data[:80]}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_data = False


def shown_escaped(html: str, *texts: str, where: str = "") -> None:
    """Each text is on the page, escaped; nothing of it is live markup."""
    live = Live()
    live.feed(html)
    assert live.found == [], where
    for text in texts:
        assert str(escape(text)) in html, (where, text)


def test_resources_units_and_plans(client: TestClient, session: Session) -> None:

    people = catalog_people(session)
    make_unit(session, "fz.comms", "福州市通信管理办公室")
    make_user(session, "admin", Role.platform_admin, unit="fz.bigdata")
    open_datasets(session, people)
    made = make_published(
        session, people, name=f"井盖{SCRIPT}", abstract=f"全市井盖{IMG}的位置", open_type="unconditional",
        keywords=[SVG, "井盖"], theme_tags=["城乡建设"], base_tags=[],
    )  # fmt: skip
    code = made.code
    search.reindex(session, catalog.all_codes(session))
    unit = client.patch("/api/v1/units/fz.comms", json={"name": f"通信办{SCRIPT}",
                                                        "short_name": IMG},
                        headers=act_as(client, "admin"))  # fmt: skip
    assert unit.status_code == 200, unit.text

    def q(text: str) -> str:  # a YAML scalar (a JSON string is one)
        return json.dumps(text, ensure_ascii=False)

    plan = PLAN.replace("title: 测试规划", f"title: {q('测试规划' + SVG)}").replace(
        "city: 福州市", f"city: 福州市\nsummary: {q(IMG)}\ngoals: [{q(SCRIPT)}]\n"
        "document_number: '<b>榕政</b>'\nsource: 'https://example.gov.cn/plan'").replace(
        "name: 网上可办率", f"name: {q('网上可办率' + SCRIPT)}").replace(
        "title: 建设城市大脑", f"title: {q('建设城市大脑' + IMG)}")  # fmt: skip
    assert not load(session, plan).problems
    pages = {
        f"/console/catalog/{code}": [f"井盖{SCRIPT}", f"全市井盖{IMG}的位置", SVG],
        "/console/catalog": [f"井盖{SCRIPT}"],
        "/console/search?q=井盖": [f"井盖{SCRIPT}"],
        f"/open/{code}": [f"井盖{SCRIPT}", f"全市井盖{IMG}的位置"],
        "/open?q=井盖": [f"井盖{SCRIPT}"],
        "/console/units": [f"通信办{SCRIPT}"],
        "/console/units/fz.comms": [f"通信办{SCRIPT}", IMG],
        "/console/cockpit": [f"测试规划{SVG}"],
        "/console/cockpit/plans/fz-test": [f"测试规划{SVG}", IMG, SCRIPT, f"网上可办率{SCRIPT}"],
        "/console/cockpit/tasks?plan=fz-test": [f"建设城市大脑{IMG}"],
    }
    for path, texts in pages.items():
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code == 200, (path, page.text[:300])
        shown_escaped(page.text, *texts, where=path)


@pytest.mark.parametrize("link", LINKS)
def test_a_plan_names_its_source_by_a_web_address_only(
    client: TestClient, session: Session, link: str
) -> None:
    city(session)
    plan = PLAN.replace("city: 福州市", f"city: 福州市\nsource: {json.dumps(link)}")
    problems = load(session, plan).problems
    assert [p.field for p in problems] == ["source"], problems
    fine = load(session, PLAN.replace("city: 福州市", "city: 福州市\nsource: 'https://x.gov.cn/a'"))
    assert not fine.problems
    # and edited on its own, through the API
    make_user(session, "bureau", Role.platform_admin, unit="fz.bigdata")
    headers = act_as(client, "bureau")
    document = {"title": "测试规划", "issuer": "福州市人民政府办公厅", "period": [2021, 2025],
                "city": "福州市", "source": link}  # fmt: skip
    r = client.put("/api/v1/cockpit/plans/fz-test/document", json=document, headers=headers)
    assert (r.status_code, r.json()["error"]["field"]) == (422, "source"), r.text
    page = client.get("/console/cockpit/plans/fz-test", headers={"Accept": "text/html"})
    assert 'href="https://x.gov.cn/a"' in page.text
    shown_escaped(page.text)


ROAD = {
    "reporter_name": f"林{SVG}", "reporter_phone": "13805911234",
    "text": f"井盖缺失{SCRIPT}很危险", "address": f"鼓楼区鼓东街道{IMG}", "category_code": "010202",
}  # fmt: skip


def _code(client: TestClient, settings: Settings) -> dict[str, str]:
    page = client.get("/hotline").text
    match = re.search(r'name="captcha_token" value="([^"]+)"', page)
    assert match
    form = re.search(r'name="form_token" value="([^"]+)"', page)
    assert form, "no form token on the portal"
    return {
        "captcha_token": match[1],
        "captcha": captcha.read(settings, match[1])[0].lower(),
        "form_token": form[1],
    }  # the page's form token comes with its picture


def test_cases_knowledge_and_the_portal(
    client: TestClient, session: Session, settings: Settings
) -> None:
    demo_city(session)
    op = act_as(client, "operator")
    up = client.post("/api/v1/hub/files", headers=op,
                     files={"file": (f"{IMG}.jpg", photo(), "image/jpeg")})  # fmt: skip
    assert up.status_code == 201, up.text
    for link in LINKS:
        bad = client.post("/api/v1/hub/cases", headers=op, json=ROAD | {
            "attachments": [{"name": "录像", "url": link}]})  # fmt: skip
        assert bad.status_code == 422, link
    taken = client.post("/api/v1/hub/cases", headers=op, json=ROAD | {"title": f"标题{SCRIPT}",
        "attachments": [{"file_id": up.json()["id"]}, {"name": SCRIPT, "url": "https://v.cn/1"}]})  # fmt: skip
    assert taken.status_code == 201, taken.text
    number = taken.json()["case"]["number"]
    handler = act_as(client, "handler")
    for action, body in (("sign", {"note": SVG}), ("reply", {"reply": f"已处理{IMG}"})):
        r = client.post(f"/api/v1/hub/cases/{number}/actions/{action}", json=body, headers=handler)
        assert r.status_code == 200, r.text
    sup = act_as(client, "supervisor")
    answer = client.post("/api/v1/hotline/knowledge", headers=sup, json={
        "title": f"井盖{SCRIPT}", "question": IMG, "answer": f"请拨打{SVG}", "keywords": [SCRIPT],
        "source": "javascript:alert(5)"})  # fmt: skip
    assert answer.status_code == 201, answer.text
    answer_id = answer.json()["id"]
    pages: dict[str, list[str]] = {
        f"/console/hub/cases/{number}": [
            f"井盖缺失{SCRIPT}很危险",
            f"鼓楼区鼓东街道{IMG}",
            f"已处理{IMG}",
            SCRIPT,
            SVG,
        ],
        "/console/hub/cases": [f"标题{SCRIPT}"],
        f"/console/hub/cases/{number}?error={SCRIPT}": [SCRIPT],
        "/console/hotline/knowledge": [f"井盖{SCRIPT}"],
        f"/console/hotline/knowledge/{answer_id}": [f"井盖{SCRIPT}", f"请拨打{SVG}"],
        "/console/hotline/desk?q=井盖": [],
        "/console/hub/board": [],
        f"/console/hub/cases/{SCRIPT}": [],
    }
    for path, texts in pages.items():
        page = client.get(path, headers={"Accept": "text/html"})
        assert page.status_code in (200, 404), (path, page.status_code)
        shown_escaped(page.text, *texts, where=path)
    # the citizen's side: the portal's follow-up page, and a request refused and shown again
    client.cookies.clear()
    track = client.post("/hotline/track", data={"number": number, "phone": "13805911234"})
    assert track.status_code == 200
    shown_escaped(track.text, f"已处理{IMG}", where="track")
    again = client.post(
        "/hotline", data=ROAD | {"reporter_phone": "12", "do": "send"} | _code(client, settings)
    )
    assert again.status_code == 422
    shown_escaped(again.text, f"井盖缺失{SCRIPT}很危险", f"鼓楼区鼓东街道{IMG}", where="again")
    made = client.post("/hotline", data=ROAD | {"do": "send"} | _code(client, settings))
    assert made.status_code == 200
    shown_escaped(made.text, where="made")
    for fmt in ("json", "xml"):
        got = client.get(f"/open311/v2/requests/{number}.{fmt}")
        assert got.status_code == 200
        assert SCRIPT not in got.text or fmt == "json"  # JSON is data, not a page
        assert got.headers["content-type"].split(";")[0] in ("application/json", "text/xml")
