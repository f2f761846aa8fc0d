from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from citybase.core.orgs import service as orgs
from citybase.core.web import i18n
from citybase.data.catalog import service
from citybase.data.catalog.schemas import (
    BaseLibrary,
    DataType,
    OpenType,
    ResourceFormat,
    ShareType,
    Status,
    Transition,
    UpdateCycle,
)
from citybase.data.catalog.views import LABELS_ZH
from tests.core.identity.factories import sign_in
from tests.data.catalog.factories import catalog_people, make_resource

ITEMS = "井盖编号 | 字符型 | 32 | 唯一编号 |\n巡查日期 | date | | 最近一次巡查 | 日期"


def test_every_label_has_chinese() -> None:
    expected = (
        [f"share.{s.value}" for s in ShareType] + [f"open.{o.value}" for o in OpenType]
        + [f"status.{s.value}" for s in Status] + [f"review.{a}" for a in service.TRANSITIONS]
        + [f"cycle.{c.value}" for c in UpdateCycle] + [f"format.{f.value}" for f in ResourceFormat]
        + [f"type.{t.value}" for t in DataType] + [f"base.{b.value}" for b in BaseLibrary]
    )  # fmt: skip
    assert [k for k in expected if k not in LABELS_ZH or not i18n.has_translation("en", k)] == []


def test_register_through_the_form_then_submit(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    catalog_people(session)
    csrf = sign_in(client, "urbansteward")
    form = {
        "csrf_token": csrf, "classification": "301001", "provider_unit_code": "fz.urban",
        "name": "城市道路井盖信息", "abstract": "全市道路井盖的位置与巡查状态。", "format": "database",
        "share_type": "unconditional", "open_type": "none", "update_cycle": "daily",
        "keywords": "井盖，市政设施", "theme_tags": "城乡建设", "base_tags": "geo", "items_text": ITEMS,
    }  # fmt: skip
    response = client.post("/console/catalog/new", data=form | {"form_token": form_token()},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    code = response.headers["location"].split("/")[-1].split("?")[0]
    page = client.get(f"/console/catalog/{code}")
    assert "井盖编号" in page.text
    assert "字符型" in page.text
    assert "市政设施" in page.text
    assert "提交审核" in page.text
    client.post(
        f"/console/catalog/{code}/act/submit", data={"csrf_token": csrf, "form_token": form_token()}
    )
    assert "已提交" in client.get(f"/console/catalog/{code}").text


def test_form_errors_are_shown_next_to_the_form(
    client: TestClient, session: Session, form_token
) -> None:  # type: ignore[no-untyped-def]
    catalog_people(session)
    csrf = sign_in(client, "urbansteward")
    response = client.post(
        "/console/catalog/new",
        data={"csrf_token": csrf, "form_token": form_token(), "classification": "301001", "provider_unit_code": "fz.urban",
              "name": "x", "abstract": "short", "format": "database", "share_type": "conditional",
              "open_type": "none", "update_cycle": "daily", "items_text": "a | nonsense"},
    )  # fmt: skip
    assert response.status_code == 422
    assert "信息项 1：请从所列选项中选择" in response.text  # by its label, never items.0.data_type


def test_catalog_list_and_diff_pages(client: TestClient, session: Session, form_token) -> None:  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"])
    csrf = sign_in(client, "urbansteward")
    edit = client.get(f"/console/catalog/{r.code}/edit")
    assert "井盖编号 | string | 32" in edit.text
    client.post(
        f"/console/catalog/{r.code}/edit",
        data={"csrf_token": csrf, "form_token": form_token(), "name": r.name, "abstract": r.abstract, "format": "database",
              "share_type": "unconditional", "open_type": "none", "update_cycle": "weekly",
              "base_tags": "geo", "items_text": "井盖编号 | string | 32", "note": "每周更新"},
    )  # fmt: skip
    listing = client.get("/console/catalog", params={"q": "井盖"})
    assert r.code in listing.text
    # the providing unit by its name, not its code
    provider = orgs.get_unit(session, r.provider_unit_code).name
    assert f"<td>{provider}</td>" in listing.text
    assert f"<td>{r.provider_unit_code}</td>" not in listing.text
    diff = client.get(f"/console/catalog/{r.code}/diff", params={"a": 1, "b": 2})
    # each field by its label and each coded value by its name, never as stored
    assert "<td>更新周期</td><td>每日</td><td>每周</td>" in diff.text
    assert "<td>关键词</td><td>井盖、市政设施</td><td>—</td>" in diff.text
    assert "update_cycle" not in diff.text
    assert "weekly" not in diff.text
    assert "权属单位" in diff.text


def test_only_drafts_open_in_the_editor(client: TestClient, session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"])
    service.transition(session, people["urbansteward"], r.code, "submit", Transition())
    sign_in(client, "urbansteward")
    page = client.get(f"/console/catalog/{r.code}/edit", headers={"Accept": "text/html"})
    assert page.status_code == 409
    assert "revise it first" in page.text


def test_the_work_queue_shows_what_waits_for_each_steward(
    client: TestClient, session: Session
) -> None:
    from tests.data.catalog.factories import make_published

    people = catalog_people(session)
    submitted = make_published(session, people, until="submit", name="待审核的资源")
    registered = make_published(session, people, until="register", name="待发布的资源")
    sign_in(client, "bureausteward")
    page = client.get("/console/catalog/queue").text
    approve, rest = page.split("待登记", 1)
    assert submitted.name in approve
    assert registered.name in rest.split("待发布", 1)[1]
    sign_in(client, "urbansteward")
    own = client.get("/console/catalog/queue").text
    assert submitted.name not in own  # a unit does not review its own resources
