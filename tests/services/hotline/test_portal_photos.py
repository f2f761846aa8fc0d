"""The portal's report form keeps what was typed and the photos chosen when it is refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.settings import Settings
from citybase.hub.cases import service as cases
from tests.core.files.factories import photo
from tests.hub.cases.factories import city

REPORT = {"text": "鼓东路口的井盖缺失了，晚上很危险", "address": "鼓楼区鼓东街道虎节社区鼓东路",
          "category_code": "0102", "reporter_name": "林", "do": "send"}  # fmt: skip


def test_a_refused_report_keeps_the_words_and_the_photos(
    client: TestClient, session: Session, settings: Settings, form_token
) -> None:  # type: ignore[no-untyped-def]
    settings.hub.portal_captcha = False
    city(session)
    refused = client.post("/hotline", data=REPORT | {"reporter_phone": "12",
                                                     "form_token": form_token()},
                          files=[("photos", ("井盖.jpg", photo(), "image/jpeg"))])  # fmt: skip
    assert refused.status_code == 422
    assert "鼓东路口的井盖缺失了" in refused.text
    assert "鼓东路" in refused.text
    kept = re.findall(r'name="kept_photos" value="([^"]+)" checked> ([^<]+)<', refused.text)
    assert len(kept) == 1
    assert kept[0][1].strip().endswith(".jpg")
    # a reference the page did not give is not taken
    forged = kept[0][0].rsplit(".", 1)[0] + "." + "0" * 32
    made = client.post("/hotline", data=REPORT | {
        "reporter_phone": "13805911234", "form_token": form_token(),
        "kept_photos": [kept[0][0], forged]})  # fmt: skip
    assert made.status_code == 200, made.text
    [number] = re.findall(r'<strong class="mono">([^<]+)</strong>', made.text)
    case = cases.get_for_system(session, number)
    assert len(case.attachments) == 1  # the photo chosen once, sent without choosing it again
