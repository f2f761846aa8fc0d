"""The console in a real headless Chromium: sign in, open every page, no errors, no blocked asset.

Runs when Playwright's Python package and Debian's chromium are installed (.ci/run installs them);
skips otherwise. It serves the demo city from a temporary SQLite data directory.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from citybase.app import create_app
from citybase.core.runtime import open_database
from citybase.core.settings import Settings
from citybase.core.web import captcha
from citybase.core.web.templating import console
from citybase.data.datastore import service as datastore
from citybase.data.datastore.schemas import RowQuery
from citybase.demo.seed import DEMO_PASSWORD, build_demo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SETTINGS: list[Settings] = []  # the served platform's, for reading its picture codes


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("browser-home")
    settings = Settings(home=home, database_url=f"sqlite:///{home / 'citybase.db'}")
    SETTINGS[:] = [settings]
    db = open_database(settings)
    build_demo(db, settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, db, run_worker=True),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


def test_sign_in_and_open_every_console_page(base_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # a request cut short by the next navigation is not a problem; any other failure is
    page.on(
        "requestfailed",
        lambda r: (
            None if "ERR_ABORTED" in (r.failure or "") else problems.append(f"{r.url}: {r.failure}")
        ),
    )

    page.goto(f"{base_url}/console/units")
    assert page.url.startswith(f"{base_url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/console/units")
    assert "市城管委" in page.content()

    paths = [
        *sorted({e.path for e in console.nav}),
        "/console/regions/350102",
        "/console/units/gl.urban",
        "/console/units/new",
        "/console/users/1",
        "/console/users/new",
        "/console/ledger/0",
        "/console/catalog/101001-000001",
        "/console/grading/101001-000001",
        "/console/review/101001-000001",
        "/console/catalog/201001-000001/rows",
        "/console/search?q=医疗",
        "/console/sharing/new?resource=101001-000001",
        "/console/cockpit/indicators/1",
        "/console/perception/devices/wl-baima-01",
        "/console/cockpit/tasks/1",
        "/console/cockpit/tasks/1/edit",
        "/console/cockpit/indicators/1/edit",
        "/console/cockpit/plans/demo-citybase-rollout",
        "/console/cockpit/plans/demo-citybase-rollout/yaml",
        "/open/201001-000001",
        "/open/102001-000001/apply",
        "/open/applications/follow",
        "/open/licence",
        "/docs",
    ]
    for path in paths:
        response = page.goto(f"{base_url}{path}")
        assert response is not None, path
        assert response.status == 200, path
        if path != "/docs":
            assert page.locator("nav.side").count() == 1, path
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".swagger-ui .information-container", timeout=10000)
    page.goto(f"{base_url}/console/hub/cases")
    page.locator("td.mono a").first.click()
    page.wait_for_selector("text=办理记录")
    assert page.locator("nav.side").count() == 1

    page.goto(f"{base_url}/console/regions")
    page.screenshot(path=str(tmp_path / "regions.png"), full_page=True)
    page.click("text=English")
    assert page.locator("h1").inner_text() == "Regions"
    assert problems == []


def test_an_api_key_made_in_the_console_works(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{base_url}/console/keys")
    page.fill("input[name=name]", "dashboard")
    page.click("text=创建密钥 >> nth=-1")
    secret = page.locator("#new-key").inner_text().strip()
    response = page.request.get(
        f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.ok
    assert response.json()["username"] == "supervisor"


def test_a_citizen_sends_a_request_from_where_they_stand(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    """The portal's 使用我的位置 takes the browser's position; the request lands in the grid of
    the demo's outlines that holds it."""
    context = browser.new_context(geolocation={"longitude": 119.298, "latitude": 26.089},
                                  permissions=["geolocation"])  # fmt: skip
    page = context.new_page()
    page.goto(f"{base_url}/hotline")
    page.fill("textarea[name=text]", "路口井盖缺失，晚上很危险")
    page.fill("input[name=reporter_phone]", "13805910001")
    page.click("text=使用我的位置")
    page.wait_for_selector("text=已获取您的位置")
    assert page.input_value("input[name=lon]") == "119.298000"
    token = page.input_value("input[name=captcha_token]")
    page.fill("input[name=captcha]", captcha.read(SETTINGS[0], token)[0])  # as a person reads it
    page.click("button[value=send]")
    page.wait_for_selector("text=您的诉求已受理")
    context.close()


def test_the_region_picker_is_a_cascade(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    """With script, the portal's plain list of regions becomes district ▸ street ▸ …, each list
    filled from /regions/children, and the deepest choice is what the form sends."""
    page = browser.new_page()
    page.goto(f"{base_url}/hotline")
    district = ".cascade select[data-level=district]"
    page.wait_for_selector(f"{district} option[value='350102']", state="attached")
    assert page.locator(".cascade select:not([data-level])").is_hidden()  # the plain list
    page.select_option(district, "350102")
    street = ".cascade select[data-level=street]"
    page.wait_for_selector(f"{street} option[value^='350102']", state="attached")
    first = page.locator(f"{street} option[value^='350102']").first.get_attribute("value")
    page.select_option(street, first)
    assert page.input_value("input[type=hidden][name=region_code]") == first
    page.close()


PHONE = {"width": 375, "height": 812}


def test_the_console_on_a_phone(base_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """At 375 pixels across the navigation folds behind 菜单, wide tables scroll inside
    themselves, and no page is wider than the screen; a screenshot of each page is kept."""
    shots = Path(os.environ.get("CITYBASE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    wide = []
    for path in ("/", "/console/hub/cases", "/console/catalog", "/console/perception/devices",
                 "/console/regions", "/console/cockpit", "/console/ledger", "/hotline"):  # fmt: skip
        page.goto(f"{base_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide.append(f"{path}: {width}px")
        name = path.strip("/").replace("/", "-") or "home"
        page.screenshot(path=str(shots / f"phone-{name}.png"))
    assert wide == [], f"pages wider than the phone: {wide}"

    page.goto(f"{base_url}/console/hub/cases")
    side = page.locator("nav.side")
    assert side.is_hidden()  # folded: the list comes first
    table = page.locator("main table").first
    assert table.evaluate("t => t.scrollWidth > t.clientWidth")  # it scrolls, the page does not
    page.click("label.menu-button")
    assert side.is_visible()
    page.screenshot(path=str(shots / "phone-menu.png"))
    side.locator("a").first.click()
    page.wait_for_load_state()
    assert page.locator("nav.side").is_hidden()  # folded again on the next page
    context.close()


def test_the_maps_draw_outlines_devices_and_cases(base_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The devices' map draws Fuzhou's districts from their outlines with the devices on them,
    the cases' map colours the districts by the listed cases and a click on one filters the
    list by it, and a region's page draws its sub-regions; Leaflet comes from the app itself
    (a CDN would be blocked by the content security policy and show as an error)."""
    shots = Path(os.environ.get("CITYBASE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")

    page.goto(f"{base_url}/console/perception/devices")
    page.locator("#devices-map path.outline").nth(12).wait_for(state="attached")  # no eval: the CSP
    page.wait_for_selector("#devices-map .leaflet-marker-icon, #devices-map path.pt")
    assert page.locator("#devices-map .leaflet-control-layers").count() == 1
    assert "区县边界" in page.locator("#devices-map-legend").inner_text()
    page.locator("#devices-map").screenshot(path=str(shots / "map-devices.png"))

    page.goto(f"{base_url}/console/hub/cases")
    page.locator("#cases-map path.outline").nth(12).wait_for(state="attached")  # no eval: the CSP
    hot = page.locator("#cases-map path.heat-4, #cases-map path.heat-3")
    assert hot.count() >= 1
    assert page.locator("svg.chart rect.series-0").count() >= 1  # the trend's bars
    page.screenshot(path=str(shots / "map-cases.png"), full_page=True)
    # a district under the cluster of its cases' dots is clicked as Leaflet sees a click on it
    page.locator("#cases-map path.heat-4, #cases-map path.heat-3").first.dispatch_event("click")
    page.wait_for_url(re.compile(r"/console/hub/cases\?.*region=35\d{4}"))  # the district chosen

    page.goto(f"{base_url}/console/regions/350100")
    page.locator("#region-map path.outline").nth(13).wait_for(state="attached")  # no eval: the CSP
    page.locator("#region-map").screenshot(path=str(shots / "map-city.png"))
    assert problems == []
    page.close()


PUBLIC_PHONE = {"width": 390, "height": 844}


def test_the_public_pages_on_a_phone(base_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A citizen's phone, 390 pixels across, signed in as no one: the public pages fit the
    screen, and the open-data portal shows its results before its facets."""
    shots = Path(os.environ.get("CITYBASE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PUBLIC_PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    wide = []
    for path in ("/hotline", "/hotline/track", "/open", "/open/applications/follow",
                 "/evaluation", "/certificates/verify", "/certificates/mine", "/onething"):  # fmt: skip
        page.goto(f"{base_url}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PUBLIC_PHONE["width"]:
            wide.append(f"{path}: {width}px")
        name = path.strip("/").replace("/", "-")
        page.screenshot(path=str(shots / f"public-phone-{name}.png"), full_page=True)
    assert wide == [], f"public pages wider than the phone: {wide}"
    page.goto(f"{base_url}/open")
    results = page.locator(".with-facets > .results").bounding_box()
    facets = page.locator(".with-facets > .facets").bounding_box()
    assert results is not None
    assert facets is not None
    assert results["y"] < facets["y"]  # what was searched for first, the narrowing after
    context.close()


def test_a_challengers_training_is_followed_on_the_page(base_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    """The quality team asks for a challenger: the model page shows a progress line that the
    page's script keeps up to date from the worker's reports, and the page shows the new
    version once the worker is done."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", "supervisor")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    page.goto(f"{base_url}/console/hub/models")
    before = page.locator("table").first.locator("tbody tr").count()
    page.click("text=立即训练挑战模型")
    page.wait_for_load_state()
    line = page.locator(".progress-line")
    if line.count():  # the worker may have finished before the page came back
        assert line.locator("[data-line]").inner_text().strip() != ""
        page.wait_for_selector(".progress-line", state="detached", timeout=240_000)
    page.wait_for_load_state()
    assert page.locator("table").first.locator("tbody tr").count() > before  # listed
    assert problems == []
    page.close()


def _signed_in(browser, base_url: str, username: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return context, page


def test_one_real_task_per_role(base_url: str, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each role does one piece of its real work in the browser, a screenshot kept of each step
    (``CITYBASE_SCREENSHOTS`` names where): a citizen reports with a photo and follows the
    request; an operator takes a call; a handler signs for a case and answers it; a supervisor
    watches the board; a steward decides a sharing request; a consumer reads the granted rows;
    an auditor finds who read a person's data; the admin reads the plans' cockpit."""
    shots = Path(os.environ.get("CITYBASE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
        page.screenshot(path=str(shots / f"task-{name}.png"), full_page=True)

    # the citizen: a report with a photo, then its progress followed by number and phone
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{base_url}/hotline")
    page.fill("textarea[name=text]", "鼓东路口的路灯不亮，晚上看不清路")
    page.fill("input[name=reporter_phone]", "13805910002")
    district = ".cascade select[data-level=district]"
    page.wait_for_selector(f"{district} option[value='350102']", state="attached")
    page.select_option(district, "350102")
    page.set_input_files("input[name=photos]", files=[{
        "name": "路灯.png", "mimeType": "image/png", "buffer": _png()}])  # fmt: skip
    token = page.input_value("input[name=captcha_token]")
    page.fill("input[name=captcha]", captcha.read(SETTINGS[0], token)[0])
    shot(page, "citizen-1-report")
    page.click("button[value=send]")
    page.wait_for_load_state()
    shot(page, "citizen-2-sent")
    page.wait_for_selector("text=您的诉求已受理")
    found = re.search(r"FZ\d{8}\d+", page.content())
    assert found is not None
    shot(page, "citizen-3-accepted")
    page.goto(f"{base_url}/hotline/track")
    page.fill("input[name=number]", found.group(0))
    page.fill("input[name=phone]", "13805910002")
    page.locator("main form button").first.click()
    page.wait_for_selector(f"text={found.group(0)}")
    shot(page, "citizen-4-follow")
    context.close()

    # the operator: a call taken at the desk, its place chosen in the cascade
    context, page = _signed_in(browser, base_url, "operator")
    page.goto(f"{base_url}/console/hotline/desk")
    page.fill("input[name=reporter_phone]", "13805910003")
    page.fill("textarea[name=text]", "台江区小区门口垃圾堆积多日无人清运")
    page.wait_for_selector(f"{district} option[value='350102']", state="attached")
    page.select_option(district, "350102")
    page.select_option("select[name=category_code]", index=1)
    shot(page, "operator-1-call")
    page.click("button[value=accept]")
    page.wait_for_selector("text=办理记录")
    assert "/console/hub/cases/" in page.url
    shot(page, "operator-2-case")
    context.close()

    # the handler: a case of the unit signed for, then answered
    context, page = _signed_in(browser, base_url, "handler")
    page.goto(f"{base_url}/console/hub/cases?state=dispatched")
    page.locator("td.mono a").first.click()
    page.wait_for_selector("text=办理记录")
    shot(page, "handler-1-case")
    page.click("details > summary:text-is('签收')")  # each step folds out of the list
    page.locator("form:has(input[name=action][value=sign]) button").click()
    page.wait_for_selector("details > summary:text-is('答复')")
    page.click("details > summary:text-is('答复')")
    reply = page.locator("form:has(input[name=action][value=reply])")
    reply.locator("textarea[name=reply]").fill("已安排人员现场处理，问题已解决。")
    shot(page, "handler-2-signed")
    reply.locator("button").click()
    page.wait_for_selector("text=已保存")
    shot(page, "handler-3-answered")
    context.close()

    # the supervisor watches the board
    context, page = _signed_in(browser, base_url, "supervisor")
    assert page.locator("#desk-title").count() == 1  # starts at what waits for it
    page.goto(f"{base_url}/console/hub/board")
    page.wait_for_selector("main h1")
    shot(page, "supervisor-board")
    context.close()

    # the steward decides a sharing request made to the bureau
    context, page = _signed_in(browser, base_url, "steward")
    page.goto(f"{base_url}/console/sharing")
    decide = page.locator("form:has(button[value=approve])").first
    decide.locator("input[name=reason]").fill("符合共享条件")
    shot(page, "steward-1-request")
    decide.locator("button[value=approve]").click()
    page.wait_for_load_state()
    shot(page, "steward-2-decided")
    context.close()

    # the consumer reads rows its unit was granted (the resident register needs a case number)
    context, page = _signed_in(browser, base_url, "consumer")
    page.goto(f"{base_url}/console/sharing")
    page.locator("a[title='查看授权数据']:has-text('人口基本信息')").first.click()
    page.wait_for_selector("form.filters")
    page.fill("input[name=why]", "核查参保人员信息")
    if page.locator("input[name=case]").count():
        page.fill("input[name=case]", "SR202612010001")
    page.locator("form.filters button").click()
    page.wait_for_selector("text=依据本单位的共享授权")
    shot(page, "consumer-granted-rows")
    context.close()

    # the auditor finds who read a person's data: one of the residents the consumer just read
    db = open_database(SETTINGS[0])
    with db.session_scope(readonly=True) as session:
        first = datastore.query(session, "101001-000001", RowQuery(limit=1)).rows[0]
    db.dispose()
    context, page = _signed_in(browser, base_url, "auditor")
    page.goto(f"{base_url}/console/sharing/access")
    page.fill("input[name=subject]", str(first["公民身份号码"]))
    shot(page, "auditor-1-search")
    page.locator("form.filters button").click()
    page.wait_for_load_state()
    reads = page.locator("main table").first.locator("tbody tr")
    assert reads.count() >= 1
    assert "卫生健康" in reads.first.inner_text()  # the consumer's unit read that resident
    shot(page, "auditor-2-found")
    context.close()

    # the admin reads the plans' cockpit
    context, page = _signed_in(browser, base_url, "admin")
    page.goto(f"{base_url}/console/cockpit")
    page.wait_for_selector("main h1")
    shot(page, "admin-cockpit")
    context.close()


def _png() -> bytes:
    """A small real PNG (a citizen's photo), drawn here."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x80\x00" * 8 for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip
