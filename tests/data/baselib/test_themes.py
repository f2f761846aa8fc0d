"""Theme libraries (主题库): definitions checked field by field, a build joining a resource, another
unit's resource and the person library through the files, the grade rule, lineage, the schedule
and the trust boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, InvalidInput
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.data.baselib import lineage, service, theme_builds, themes
from citybase.data.baselib.schemas import GradeReview, Kind, ThemeCreate, ThemeUpdate
from citybase.data.catalog import service as catalog
from citybase.data.catalog.schemas import Transition
from citybase.data.datastore import service as datastore
from citybase.data.grading import service as grading
from citybase.data.masking import operators as ops
from citybase.data.opendata import service as opendata
from citybase.data.search import service as search
from citybase.data.sharing.models import ShareAccess
from tests.core.identity.factories import sign_in
from tests.data.baselib.factories import LinkedCity, linked_city
from tests.data.sharing.factories import grant_to, person_rows


def _spec(city: LinkedCity, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "居民健康与违法记录主题库",
        "abstract": "测试用主题库：居民健康档案关联城管违法记录与一人一档。",
        "classification": "201901",
        "owner_unit": "fz.health",
        "refresh_hours": 24,
        "sources": [
            {"alias": "h", "resource": city.health.code},
            {"alias": "u", "resource": city.shared.resource.code,
             "join": {"to": "h", "entity": "person"}},
            {"alias": "p", "library": "person", "fields": ["birth", "sex"],
             "join": {"to": "h", "entity": "person"}},
        ],
        "filters": [{"column": "h.居住地址", "op": "contains", "value": "鼓楼区"}],
        "columns": [
            {"name": "姓名", "source": "h.姓名", "element": "姓名", "checks": ["not_null"]},
            {"name": "出生日期", "source": "p.birth", "element": "日期", "data_type": "date"},
            {"name": "违法事由", "source": "u.违法事由", "length": 500},
            {"name": "罚款金额", "source": "u.罚款金额", "data_type": "decimal",
             "checks": ["not_null"]},
        ],
    }  # fmt: skip
    spec.update(overrides)
    return spec


def _linked(session: Session, settings: Settings) -> LinkedCity:
    city = linked_city(session, settings)
    service.link_base_library(session, city.steward, Kind.person, settings.baselib,
                              ops.keys_for(settings.masking_key))  # fmt: skip
    return city


def _build(session: Session, settings: Settings, principal: Any, code: str) -> Any:
    return theme_builds.build_theme(session, principal, code, ops.keys_for(settings.masking_key),
                              settings.baselib)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda s: s["sources"][1].update(resource="209999-000404"), "spec.sources[1].resource"),
        (lambda s: s["sources"][0].update(alias="H!"), "spec.sources[0].alias"),
        (lambda s: s["sources"][1]["join"].update(to="p"), "spec.sources[1].join.to"),
        (lambda s: s["sources"][1].pop("join"), "spec.sources[1].join"),
        (lambda s: s["sources"][2].update(fields=["shoe_size"]), "spec.sources[2].fields"),
        (lambda s: s["columns"][2].update(source="u.不存在"), "spec.columns[2].source"),
        (lambda s: s["columns"][0].update(checks=["pretty"]), "spec.columns[0].checks"),
        (lambda s: s["filters"][0].update(column="x.居住地址"), "spec.filters[0].column"),
        (lambda s: s.update(owner_unit="fz.nowhere"), "spec.owner_unit"),
        (lambda s: s.update(classification="101901"), "spec.classification"),
        (lambda s: s.update(colour="blue"), "spec.colour"),
        (lambda s: s["columns"][1].update(element="生日"), "spec.columns[1].element"),
        (lambda s: s["columns"][1].update(data_type="string"), "spec.columns[1].data_type"),
    ],
)
def test_a_definition_error_names_its_field(
    session: Session, settings: Settings, change: Any, field: str
) -> None:
    city = linked_city(session, settings)
    spec = _spec(city)
    change(spec)
    with pytest.raises(InvalidInput) as caught:
        themes.define_theme(session, city.shared.people["root"],
                            ThemeCreate(code="health-offences", spec=spec))  # fmt: skip
    assert caught.value.field == field, caught.value.message


def test_a_yaml_definition_and_bad_yaml(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    root = city.shared.people["root"]
    with pytest.raises(InvalidInput) as caught:
        themes.define_theme(session, root, ThemeCreate(code="bad", spec="sources: [unclosed"))
    assert caught.value.field == "spec"
    made = themes.define_theme(session, root,
                               ThemeCreate(code="yaml-one", spec=themes.spec_text(_spec(city))))  # fmt: skip
    assert made.spec["sources"][0]["resource"] == city.health.code


def test_a_build_joins_through_the_files_and_traces_every_source(
    session: Session, settings: Settings
) -> None:
    city = _linked(session, settings)
    root = city.shared.people["root"]
    made = themes.define_theme(session, root, ThemeCreate(code="health-offences", spec=_spec(city)))
    resource = catalog.get_resource(session, made.resource_code)
    assert resource.provider_unit_code == "fz.health"
    assert resource.status.value == "submitted"  # to the bureau's review, like any resource
    assert [i.name for i in resource.items] == ["姓名", "出生日期", "违法事由", "罚款金额"]
    reads_before = session.query(ShareAccess).count()
    build = _build(session, settings, root, "health-offences")
    assert build.status == "ok", build.message
    assert build.rows == 5  # the sixth lives in 台江区: filtered out
    rows = list(datastore.iter_rows(session, made.resource_code))
    urban = person_rows(6)
    by_fine = {int(float(r["罚款金额"])): r for r in rows}
    for i in range(5):  # every health row is linked to the same person's offence
        assert by_fine[200 + i]["违法事由"] == urban[i]["违法事由"]
    assert str(by_fine[202]["出生日期"]) == urban[2]["出生日期"]  # the file's golden birth date
    # one traced read per source, each with its basis
    assert session.query(ShareAccess).count() == reads_before + 3
    assert [s["legal_basis"] for s in build.sources] == ["平台管理（平台管理员读取）"] * 3
    assert all(s["access_id"] for s in build.sources)
    logged = session.get(ShareAccess, build.sources[1]["access_id"])
    assert logged is not None
    assert logged.case_number.startswith("THEME")
    assert logged.purpose.startswith("主题库构建")
    assert logged.provider_unit_code == "fz.urban"
    assert logged.subjects == 6  # the offence register's citizen IDs, each a data subject
    theme = themes.get_theme(session, root, "health-offences")
    assert theme.rows == 5
    assert theme.quality_score == 100.0
    assert theme.next_due_at is not None


def test_the_grade_is_the_highest_of_the_sources_unless_reviewed_down(
    session: Session, settings: Settings
) -> None:
    assert theme_builds.grade_of(["general_1", "general_2"]) == "general_2"
    assert theme_builds.grade_of(["general_1", ""]) == "general_3"  # never graded: personal
    assert theme_builds.grade_of(["core", "general_1"]) == "core"
    city = _linked(session, settings)
    root, bureau = city.shared.people["root"], city.steward
    urban = city.shared.resource.code
    spec = _spec(city, sources=[{"alias": "u", "resource": urban}],
                 columns=[{"name": "罚款金额", "source": "u.罚款金额", "data_type": "decimal"}],
                 filters=[])  # fmt: skip
    themes.define_theme(session, root, ThemeCreate(code="fines", spec=spec))
    build = _build(session, settings, root, "fines")
    assert build.grade == grading.level_of(session, urban)
    theme = themes.get_theme(session, root, "fines")
    assert grading.level_of(session, theme.resource_code) == build.grade
    with pytest.raises(InvalidInput):  # a review grades down, never up or level
        themes.review_grade(session, bureau, "fines",
                            GradeReview(level=build.grade, reason="同级"), settings.baselib)  # fmt: skip
    with pytest.raises(Forbidden):  # the owner unit does not grade its own library down
        themes.review_grade(session, city.health_steward, "fines",
                            GradeReview(level="general_1", reason="只含金额"), settings.baselib)  # fmt: skip
    reviewed = themes.review_grade(session, bureau, "fines",
                                   GradeReview(level="general_1", reason="只含罚款金额，不含个人信息"),
                                   settings.baselib)  # fmt: skip
    assert (reviewed.grade, reviewed.source_grade) == ("general_1", build.grade)
    assert grading.level_of(session, theme.resource_code) == "general_1"
    again = _build(session, settings, root, "fines")
    assert again.grade == "general_1"  # the review holds through rebuilds
    entry = session.scalars(
        select(LedgerEntry).where(LedgerEntry.action == "baselib.theme.grade")
    ).one()
    assert entry.reason == "只含罚款金额，不含个人信息"


def test_lineage_is_recorded_in_the_catalog_and_drawn(session: Session, settings: Settings) -> None:
    city = _linked(session, settings)
    root = city.shared.people["root"]
    made = themes.define_theme(session, root, ThemeCreate(code="health-offences", spec=_spec(city)))
    resource = catalog.get_resource(session, made.resource_code)
    assert resource.related_codes == [city.health.code, city.shared.resource.code]
    kinds = [(n.kind, n.unit_code) for n in made.lineage]
    assert kinds == [("resource", "fz.health"), ("resource", "fz.urban"), ("library", "基础库"),
                     ("theme", "fz.health")]  # fmt: skip
    drawn = str(lineage.svg(made.lineage))
    assert drawn.startswith("<svg")
    assert drawn.count("<line") == 3
    assert city.health.code in drawn
    assert city.shared.resource.code in drawn
    assert "style=" not in drawn
    assert "<script" not in drawn


def test_another_units_source_needs_the_owner_units_grant(
    session: Session, settings: Settings
) -> None:
    city = _linked(session, settings)
    steward = city.health_steward
    spec = _spec(city, sources=_spec(city)["sources"][:2],
                 columns=_spec(city)["columns"][:1] + _spec(city)["columns"][2:])  # fmt: skip
    themes.define_theme(session, steward, ThemeCreate(code="health-offences", spec=spec))
    failed = _build(session, settings, steward, "health-offences")
    assert failed.status == "failed"
    assert city.shared.resource.code in failed.message
    assert "grant" in failed.message
    assert themes.get_theme(session, steward, "health-offences").rows == 0
    grant_to(session, city.shared, ["违法事由", "罚款金额"], who=steward)
    built = _build(session, settings, steward, "health-offences")
    assert built.status == "ok", built.message
    assert built.sources[1]["legal_basis"].startswith(theme_builds.THEME_BASIS)
    # a definition under the bureau's review waits for it; returned, it changes
    code = themes.get_theme(session, steward, "health-offences").resource_code
    catalog.transition(session, city.steward, code, "return", Transition(reason="补充来源"))
    # the person library's fields are the base libraries' stewards' to put in
    themes.update_theme(session, steward, "health-offences", ThemeUpdate(spec=_spec(city)))
    refused = _build(session, settings, steward, "health-offences")
    assert refused.status == "failed"
    assert "base libraries" in refused.message


def test_a_unit_not_owning_it_cannot_edit_or_build(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city = _linked(session, settings)
    themes.define_theme(session, city.shared.people["root"],
                        ThemeCreate(code="health-offences", spec=_spec(city)))  # fmt: skip
    token = sign_in(client, "urbansteward")
    h = {"X-CSRF-Token": token}
    assert (
        client.post("/api/v1/baselib/themes/health-offences/builds", headers=h).status_code == 403
    )
    put = client.put(
        "/api/v1/baselib/themes/health-offences", json={"spec": _spec(city)}, headers=h
    )
    assert put.status_code == 403
    own = client.post("/api/v1/baselib/themes", headers=h,
                      json={"code": "urban-own", "spec": _spec(city)})  # fmt: skip
    assert own.status_code == 403  # its owner unit is fz.health
    bad = client.post("/api/v1/baselib/themes", headers=h, json={
        "code": "urban-own", "spec": _spec(city, owner_unit="fz.urban", refresh_hours=0)})  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "spec.refresh_hours"


def test_anonymous_sees_only_open_published_theme_libraries(
    client: TestClient, session: Session, settings: Settings
) -> None:
    city = _linked(session, settings)
    root, bureau = city.shared.people["root"], city.steward
    urban = city.shared.resource.code
    spec = _spec(city, sources=[{"alias": "u", "resource": urban}], filters=[],
                 columns=[{"name": "罚款金额", "source": "u.罚款金额", "data_type": "decimal"}],
                 open_type="unconditional", share_type="unconditional")  # fmt: skip
    made = themes.define_theme(session, root, ThemeCreate(code="fines", spec=spec))
    themes.define_theme(session, root, ThemeCreate(code="health-offences", spec=_spec(city)))
    assert client.get("/api/v1/baselib/themes").json() == []
    assert client.get("/api/v1/baselib/themes/fines").status_code == 404
    _build(session, settings, root, "fines")
    themes.review_grade(session, bureau, "fines", GradeReview(level="general_1", reason="仅金额"),
                        settings.baselib)  # fmt: skip
    for action in ("approve", "register", "publish"):
        catalog.transition(session, bureau, made.resource_code, action, Transition())
    listed = client.get("/api/v1/baselib/themes").json()
    assert [t["code"] for t in listed] == ["fines"]
    assert client.get("/api/v1/baselib/themes/health-offences").status_code == 404
    assert made.resource_code in {d.code for d in opendata.datasets(session)}
    search.reindex(session, catalog.all_codes(session))
    assert made.resource_code in client.get("/open").text


def test_the_schedule_rebuilds_what_is_due(session: Session, settings: Settings) -> None:
    city = _linked(session, settings)
    root = city.shared.people["root"]
    themes.define_theme(session, root, ThemeCreate(code="health-offences", spec=_spec(city)))
    keys = ops.keys_for(settings.masking_key)
    assert (
        list(theme_builds.build_due(session, keys, settings.baselib)) == []
    )  # never built by hand
    before = datetime.now(UTC)
    assert service.count_theme_libraries(session) == 0  # defined, not yet built
    _build(session, settings, root, "health-offences")
    assert theme_builds.due(session) == []
    assert service.count_theme_libraries(session) == 1  # the cockpit's 主题库 count
    assert service.count_theme_libraries(session, before) == 0
    later = datetime.now(UTC) + timedelta(hours=25)
    built = list(theme_builds.build_due(session, keys, settings.baselib, now=later))
    assert [(b.scheduled, b.status, b.built_by) for b in built] == [(True, "ok", "root")]
    history = themes.builds_of(session, root, "health-offences")
    assert [b.scheduled for b in history] == [True, False]


def test_the_console_pages(client: TestClient, session: Session, settings: Settings) -> None:
    city = _linked(session, settings)
    root = city.shared.people["root"]
    themes.define_theme(session, root, ThemeCreate(code="health-offences", spec=_spec(city)))
    _build(session, settings, root, "health-offences")
    sign_in(client, "root")
    listing = client.get("/console/baselib/themes")
    assert listing.status_code == 200
    assert "居民健康与违法记录主题库" in listing.text
    page = client.get("/console/baselib/themes/health-offences")
    assert page.status_code == 200
    assert "<svg" in page.text
    assert "数据血缘" in page.text
    assert "构建记录" in page.text


def test_the_console_edits_and_grades_once_when_sent_twice(
    client: TestClient, session: Session, settings: Settings, form_token: Any
) -> None:
    import json

    city = _linked(session, settings)
    root = city.shared.people["root"]
    urban = city.shared.resource.code
    spec = _spec(city, sources=[{"alias": "u", "resource": urban}],
                 columns=[{"name": "罚款金额", "source": "u.罚款金额", "data_type": "decimal"}],
                 filters=[])  # fmt: skip
    themes.define_theme(session, root, ThemeCreate(code="fines", spec=spec))
    build = _build(session, settings, root, "fines")
    csrf = sign_in(client, "root")
    edited = {"csrf_token": csrf, "form_token": form_token(),
              "spec": json.dumps({**spec, "name": "罚款金额主题库"}, ensure_ascii=False)}  # fmt: skip
    pending = client.post("/console/baselib/themes/fines",
                          data={**edited, "form_token": form_token()})  # fmt: skip
    assert pending.status_code == 422  # its catalog entry is still under the bureau's review
    assert "正在审核" in pending.text
    for action in ("approve", "register"):
        catalog.transition(session, city.steward, themes.get_theme(session, root, "fines")
                           .resource_code, action, Transition())  # fmt: skip
    first = client.post("/console/baselib/themes/fines", data=edited, follow_redirects=False)
    second = client.post("/console/baselib/themes/fines", data=edited, follow_redirects=False)
    assert (first.status_code, second.status_code) == (303, 303), first.text[:300]
    assert second.headers["location"] == first.headers["location"]
    session.expire_all()
    assert themes.get_theme(session, root, "fines").version == 2  # one edit, not two
    stale = client.post("/console/baselib/themes/fines", data={**edited, "form_token": "x.1.y"},
                        headers={"Accept": "text/html"})  # fmt: skip
    assert stale.status_code == 422  # a forged token: reload, nothing made
    assert "重新" in stale.text
    client.cookies.clear()
    csrf = sign_in(client, "bureausteward")
    review = {"csrf_token": csrf, "form_token": form_token(), "level": "general_1",
              "reason": "只含罚款金额，不含个人信息"}  # fmt: skip
    for _ in range(2):
        sent = client.post("/console/baselib/themes/fines/grade", data=review,
                           follow_redirects=False)  # fmt: skip
        assert sent.status_code == 303, sent.text[:300]
    session.expire_all()
    graded = session.scalars(
        select(LedgerEntry).where(LedgerEntry.action == "baselib.theme.grade")
    ).all()
    assert len(graded) == 1
    assert build.grade != "general_1"
    theme = themes.get_theme(session, root, "fines")
    assert grading.level_of(session, theme.resource_code) == "general_1"
