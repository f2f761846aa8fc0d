"""Open311 and XML. The API answers in XML but never parses XML: a request is posted as a form
(``application/x-www-form-urlencoded`` or ``multipart/form-data``, as GeoReport v2 has it). An
XML body — a billion laughs, an external entity — is refused as such (415, in Open311's
``<errors>``), is never expanded, and takes nothing in. Posting needs a live ``api_key`` whose
owner may take cases in; nobody, a wrong, revoked or expired key, a key of someone who may not,
or a key scoped to other permissions takes nothing in either. What the API writes in XML stays
well-formed whatever text a request holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.identity import service as identity
from citybase.core.identity.models import ApiKey
from citybase.core.identity.schemas import ApiKeyCreate
from citybase.core.settings import Settings
from citybase.hub.cases.models import Case
from tests.core.identity.factories import principal_of
from tests.security.people import count, demo_city, ledger_since, ledger_size

POST = {
    "service_code": "010202", "address_string": "鼓楼区鼓东街道虎节社区鼓东路12号",
    "description": "井盖缺失，晚上很危险", "phone": "13805911234", "first_name": "小明",
    "last_name": "林",
}  # fmt: skip
LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<service_request><api_key>{key}</api_key><service_code>010202</service_code>
<description>&lol9;</description><address_string>鼓楼区</address_string></service_request>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<service_request><api_key>{key}</api_key><service_code>010202</service_code>
<description>&xxe;</description><address_string>鼓楼区</address_string></service_request>"""


@pytest.fixture
def key(session: Session, settings: Settings) -> str:
    demo_city(session)
    return identity.create_api_key(session, settings, principal_of(session, "operator"),
                                   ApiKeyCreate(name="open311")).secret  # fmt: skip


def _errors(body: bytes) -> list[tuple[str | None, str | None]]:
    root = ET.fromstring(body)
    assert root.tag == "errors"
    return [(e.findtext("code"), e.findtext("description")) for e in root.iter("error")]


@pytest.mark.parametrize("document", [LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
@pytest.mark.parametrize("media_type", ["text/xml", "application/xml", "application/atom+xml",
                                        "application/x-www-form-urlencoded"])  # fmt: skip
def test_an_xml_body_is_refused_unparsed(
    client: TestClient, session: Session, key: str, document: str, media_type: str
) -> None:
    before, size = count(session, Case), ledger_size(session)
    for fmt in ("xml", "json"):
        r = client.post(f"/open311/v2/requests.{fmt}", content=document.format(key=key).encode(),
                        headers={"Content-Type": media_type})  # fmt: skip
        assert len(r.content) < 2000  # nothing was expanded into the answer
        assert "root:" not in r.text
        assert "lollol" not in r.text
        if media_type.endswith("urlencoded"):
            # a form that is not one: no api_key among its fields
            assert r.status_code == 403
        else:
            assert r.status_code == 415, r.text
        if fmt == "xml":
            [(code, description)] = _errors(r.content)
            assert code == str(r.status_code)
            assert description
        else:
            assert r.json()[0]["code"] == r.status_code
    assert count(session, Case) == before
    assert ledger_since(session, size) == []


def test_writes_need_a_live_key_that_may_take_cases_in(
    client: TestClient, session: Session, settings: Settings, key: str
) -> None:
    handler = identity.create_api_key(session, settings, principal_of(session, "handler"),
                                      ApiKeyCreate(name="h")).secret  # fmt: skip
    scoped = identity.create_api_key(session, settings, principal_of(session, "operator"),
                                     ApiKeyCreate(name="s", scopes=["hub:cases.read"])).secret  # fmt: skip
    revoked_made = identity.create_api_key(session, settings, principal_of(session, "operator"),
                                           ApiKeyCreate(name="r"))  # fmt: skip
    identity.revoke_api_key(session, principal_of(session, "operator"), revoked_made.id)
    expired_made = identity.create_api_key(session, settings, principal_of(session, "operator"),
                                           ApiKeyCreate(name="e"))  # fmt: skip
    row = session.get(ApiKey, expired_made.id)
    assert row is not None
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    prefix = key.split("_")[1]
    before, size = count(session, Case), ledger_size(session)
    for attempt in [None, "", "nonsense", key + "x", key[:-1], f"cb_{prefix}_", f"cb_{prefix}",
                    "cb_%_x", "cb_' OR '1'='1_x", handler, scoped, revoked_made.secret,
                    expired_made.secret]:  # fmt: skip
        data = POST | ({} if attempt is None else {"api_key": attempt})
        for fmt in ("xml", "json"):
            r = client.post(f"/open311/v2/requests.{fmt}", data=data)
            assert r.status_code == 403, (attempt, r.text)
            if fmt == "xml":
                assert _errors(r.content)[0][0] == "403"
    # a key sent as a bearer token is not Open311's way; nor is a refused key made good by it
    r = client.post("/open311/v2/requests.json", data=POST,
                    headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert r.status_code == 403
    r = client.post("/open311/v2/requests.json", data=POST, params={"api_key": handler},
                    headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    assert r.status_code == 403
    assert count(session, Case) == before
    assert ledger_since(session, size) == []
    # and the right key does take it in
    assert client.post("/open311/v2/requests.json", data=POST | {"api_key": key}).status_code == 200


def test_what_is_written_in_xml_stays_well_formed(
    client: TestClient, session: Session, key: str
) -> None:
    text = "井盖缺失 <b>&amp;</b> ]]> \x0b\x1b\ufffe end"
    r = client.post("/open311/v2/requests.xml", data=POST | {"api_key": key, "description": text,
                                                             "address_string": "鼓楼区<x/>"})  # fmt: skip
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        number = ET.fromstring(r.content).findtext("request/service_request_id")
        got = client.get(f"/open311/v2/requests/{number}.xml")
        root = ET.fromstring(got.content)  # well-formed
        assert "<b>&amp;</b>" in (root.findtext("request/description") or "")
    else:
        [(code, _)] = _errors(r.content)
        assert code == "422"
