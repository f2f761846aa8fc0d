"""The promotion margins (晋级门槛): set per model by the city centre's quality team, kept, on the
ledger, used by the promotion; nobody else changes them; bad values are refused by field. And the
unit model's versions, rolled back like the category model's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.core.settings import HubSettings, Settings
from citybase.hub.dispatch import classifier, learning
from citybase.hub.dispatch.schemas import MarginsIn, VersionStatus
from tests.core.identity.factories import make_user, sign_in
from tests.hub.cases.factories import city
from tests.hub.dispatch.factories import closed_cases
from tests.hub.dispatch.test_learning import NOW, QUALITY

MARGINS = "hub.dispatch.margins.changed"


def _changes(session: Session) -> list[tuple[str, dict[str, object]]]:
    entries, _ = ledger.find_entries(session, LedgerFilter(action=MARGINS))
    return [(str(e.object_id), dict(e.details or {})) for e in entries]


def test_the_margins_set_for_a_model_decide_its_promotion(session: Session, tmp_path: Path) -> None:
    hub = HubSettings(holdout_days=14, retrain_window_days=60, promote_margin_f1=0.0)
    before = learning.margins(session, hub, "cases")
    assert (before.margin_f1, before.margin_routed, before.stored) == (0.0, 0.0, False)
    # a district's centre does not set the margins of the city's models; nothing is kept
    with pytest.raises(Forbidden):
        learning.set_margins(session, hub, QUALITY, "cases",
                             MarginsIn(margin_f1=0.5, margin_routed=0), centre="350102")  # fmt: skip
    with pytest.raises(InvalidInput):
        learning.set_margins(session, hub, QUALITY, "nosuch",
                             MarginsIn(margin_f1=0.5, margin_routed=0), centre=None)  # fmt: skip
    assert not learning.margins(session, hub, "cases").stored
    assert _changes(session) == []
    # the quality team raises the category model's margin; the unit model keeps the settings'
    kept = learning.set_margins(session, hub, QUALITY, "cases",
                                MarginsIn(margin_f1=0.5, margin_routed=0.02, note="稳一点"),
                                centre=None)  # fmt: skip
    assert (kept.margin_f1, kept.margin_routed, kept.stored, kept.updated_by) == (
        0.5, 0.02, True, "super")  # fmt: skip
    assert _changes(session) == [("cases", {
        "before": {"margin_f1": 0.0, "margin_routed": 0.0, "stored": False},
        "after": {"margin_f1": 0.5, "margin_routed": 0.02}})]  # fmt: skip
    # the same margins again change nothing and write nothing
    learning.set_margins(session, hub, QUALITY, "cases",
                         MarginsIn(margin_f1=0.5, margin_routed=0.02), centre=None)  # fmt: skip
    assert len(_changes(session)) == 1

    closed_cases(session, 90, NOW - timedelta(days=14), 60, seed=1)
    closed_cases(session, 24, NOW, 14, seed=2)
    learning.retrain(session, tmp_path, hub, QUALITY, now=NOW - timedelta(days=1), min_examples=20)
    second = learning.retrain(session, tmp_path, hub, QUALITY, now=NOW, min_examples=20)
    assert second is not None
    assert second.status is VersionStatus.rejected  # short of the stored margin
    assert "margin 0.500" in second.decision
    assert "margin 2.0%" in second.decision
    units = {v.version: v for v in learning.versions(session, "cases-units")}
    assert units[2].status is VersionStatus.champion  # the settings' margin of 0
    assert units[1].status is VersionStatus.retired


def test_the_unit_model_goes_back_to_an_earlier_version(session: Session, tmp_path: Path) -> None:
    hub = HubSettings(holdout_days=14, retrain_window_days=60, promote_margin_f1=0.0)
    closed_cases(session, 90, NOW - timedelta(days=14), 60, seed=1)
    closed_cases(session, 24, NOW, 14, seed=2)
    learning.retrain(session, tmp_path, hub, QUALITY, now=NOW - timedelta(days=1), min_examples=20)
    learning.retrain(session, tmp_path, hub, QUALITY, now=NOW, min_examples=20)
    units = {v.version: v for v in learning.versions(session, "cases-units")}
    assert classifier.load("cases-units", tmp_path).info.name == "cases-units.v2"
    # a district's centre neither rolls back nor retrains the city's models: nothing moves
    with pytest.raises(Forbidden):
        learning.rollback(session, tmp_path, QUALITY, units[1].id, "回退", centre="350102")
    with pytest.raises(Forbidden):
        learning.ask_retrain(session, QUALITY, "cases", centre="350102")
    assert classifier.load("cases-units", tmp_path).info.name == "cases-units.v2"
    assert (
        ledger.find_entries(session, LedgerFilter(action="hub.dispatch.model.rolled_back"))[1] == 0
    )
    assert (
        ledger.find_entries(session, LedgerFilter(action="hub.dispatch.model.retrain_asked"))[1]
        == 0
    )
    back = learning.rollback(session, tmp_path, QUALITY, units[1].id, "v2 sends lamps astray")
    assert back.status is VersionStatus.champion
    assert classifier.load("cases-units", tmp_path).info.name == "cases-units.v1"
    assert classifier.load("cases", tmp_path).info.name == "cases.v2"  # the other model stays
    entries, _ = ledger.find_entries(session, LedgerFilter(action="hub.dispatch.model.rolled_back"))
    assert [e.object_id for e in entries] == ["cases-units.v1"]


def _headers(client: TestClient, user: str) -> dict[str, str]:
    client.cookies.clear()
    return {"X-CSRF-Token": sign_in(client, user)}


def test_only_the_city_quality_team_changes_the_margins(  # type: ignore[no-untyped-def]
    client: TestClient, session: Session, settings: Settings, form_token
) -> None:
    city(session)
    make_user(session, "gl.super", Role.supervisor, unit="gl.gov")  # a district's centre
    session.commit()
    api = "/api/v1/hub/dispatch/models/margins"
    good = {"margin_f1": 0.03, "margin_routed": 0.01, "note": "季度质控"}

    assert client.get(api).status_code == 401
    assert client.put(api, json=good).status_code == 401
    handler = _headers(client, "gl.handler")
    assert client.get(api).status_code == 403
    assert client.put(api, json=good, headers=handler).status_code == 403
    assert client.post("/console/hub/models/margins", data={
        "csrf_token": handler["X-CSRF-Token"], "margin_f1": "0.03", "margin_routed": "0.01",
        "form_token": form_token(),
    }).status_code == 403  # fmt: skip
    operator = _headers(client, "operator")
    assert client.put(api, json=good, headers=operator).status_code == 403
    district = _headers(client, "gl.super")
    assert client.get(api).status_code == 200  # a supervisor sees them
    # nor does a district's centre retrain or roll back the city's models
    retrain = client.post("/api/v1/hub/dispatch/models/retrain", headers=district)
    assert retrain.status_code == 403
    page = client.post("/console/hub/models/retrain", data={
        "csrf_token": district["X-CSRF-Token"], "form_token": form_token()},
        follow_redirects=False)  # fmt: skip
    assert page.status_code == 303
    assert "error=" in page.headers["location"]
    jobs = ledger.find_entries(session, LedgerFilter(action="hub.dispatch.model.retrain_asked"))
    assert jobs[1] == 0
    refused = client.put(api, json=good, headers=district)
    assert refused.status_code == 403
    assert refused.json()["error"]
    assert client.post("/console/hub/models/margins", data={
        "csrf_token": district["X-CSRF-Token"], "margin_f1": "0.03", "margin_routed": "0.01",
        "form_token": form_token(),
    }).status_code == 403  # fmt: skip
    session.expire_all()
    assert _changes(session) == []  # nothing changed by any of them
    assert client.get(api).json()["stored"] is False

    quality = _headers(client, "super")
    for body, field in (({"margin_f1": "abc", "margin_routed": 0}, "margin_f1"),
                        ({"margin_f1": 0.01, "margin_routed": 2}, "margin_routed"),
                        ({"margin_f1": -0.01, "margin_routed": 0}, "margin_f1"),
                        ({"margin_routed": 0}, "margin_f1")):  # fmt: skip
        bad = client.put(api, json=body, headers=quality)
        assert bad.status_code == 422, body
        assert field in str(bad.json()["error"]), bad.json()
    unknown = client.put(f"{api}?name=nosuch", json=good, headers=quality)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "model"
    assert _changes(session) == []
    put = client.put(api, json=good, headers=quality)
    assert put.status_code == 200, put.text
    assert put.json() | {"updated_at": None} == {
        "model": "cases", "margin_f1": 0.03, "margin_routed": 0.01, "stored": True,
        "updated_at": None, "updated_by": "super", "note": "季度质控"}  # fmt: skip
    assert client.get(f"{api}?name=cases-units").json()["stored"] is False

    # the console: errors in Chinese by field, nothing changed; then saved
    # one page's token throughout: each refused sending gives it back
    form = {
        "csrf_token": quality["X-CSRF-Token"],
        "model": "cases-units",
        "form_token": form_token(),
    }
    for sent, shown in (({"margin_f1": "abc", "margin_routed": "0"}, "宏平均F1门槛：应为数字"),
                        ({"margin_f1": "0.01", "margin_routed": "-0.1"},
                         "免纠错派单率门槛：应不小于 0"),
                        ({"margin_f1": "1.5", "margin_routed": "0"}, "宏平均F1门槛：应不大于 1"),
                        ({"margin_f1": "nan", "margin_routed": "0"}, "宏平均F1门槛：应为有限数值")):  # fmt: skip
        answer = client.post("/console/hub/models/margins", data=form | sent,
                             follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303
        page = client.get(answer.headers["location"])
        assert shown in page.text, (sent, page.text[:2000])
    assert client.get(f"{api}?name=cases-units").json()["stored"] is False
    saved = client.post("/console/hub/models/margins",
                        data=form | {"margin_f1": "0.02", "margin_routed": "0.005"},
                        follow_redirects=False)  # fmt: skip
    page = client.get(saved.headers["location"])
    assert "已保存" in page.text
    assert "由 super 于" in page.text
    assert "承办单位模型" in page.text
    got = client.get(f"{api}?name=cases-units").json()
    assert (got["margin_f1"], got["margin_routed"]) == (0.02, 0.005)
    session.expire_all()
    assert [m for m, _ in _changes(session)] == ["cases-units", "cases"]
