from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.catalog import service
from citybase.data.catalog.schemas import (
    DataItemBase,
    ResourceFilter,
    ResourceUpdate,
    Status,
    Transition,
)
from tests.core.orgs.factories import make_unit
from tests.data.catalog.factories import catalog_people, make_resource, resource_data


def test_a_new_resource_is_a_draft_with_a_code_and_version_one(session: Session) -> None:
    people = catalog_people(session)
    first = make_resource(session, people["urbansteward"])
    second = make_resource(session, people["urbansteward"], name="城市桥梁信息")
    assert (first.code, second.code) == ("301001-000001", "301001-000002")
    assert first.status is Status.draft
    assert first.version == 1
    assert first.category.value == "3"
    assert first.region_code == "350100"
    assert [i.name for i in first.items] == ["井盖编号", "权属单位", "巡查日期"]
    assert len(service.versions(session, people["urbansteward"], first.code)) == 1


def test_only_the_provider_unit_registers_its_resources(session: Session) -> None:
    people = catalog_people(session)
    with pytest.raises(Forbidden):
        make_resource(session, people["bureausteward"])  # fz.bigdata registering for fz.urban
    with pytest.raises(InvalidInput) as unknown:
        make_resource(session, people["root"], provider_unit_code="nope")
    assert unknown.value.field == "provider_unit_code"


def test_metadata_rules_name_their_field() -> None:
    with pytest.raises(ValueError, match="share condition"):
        resource_data(share_type="conditional")
    with pytest.raises(ValueError, match="appears twice"):
        resource_data(
            items=[{"name": "a", "data_type": "string"}, {"name": "a", "data_type": "date"}]
        )
    with pytest.raises(ValueError, match="类"):
        resource_data(classification="401001")


def test_every_change_is_a_version_and_versions_can_be_compared(session: Session) -> None:
    people = catalog_people(session)
    steward = people["urbansteward"]
    r = make_resource(session, steward)
    service.update_resource(
        session, steward, r.code,
        ResourceUpdate(
            abstract="全市道路井盖的位置、权属、材质与巡查状态。",
            items=[*r.items[:2], DataItemBase(name="材质", data_type="string", length=20)],
            note="补充材质",
        ),
    )  # fmt: skip
    unchanged = service.update_resource(session, steward, r.code, ResourceUpdate(name=r.name))
    assert unchanged.version == 2  # nothing changed: no new version
    d = service.diff(session, steward, r.code, 1, 2)
    assert [c.field for c in d.changes] == ["abstract"]
    assert (d.items_added, d.items_removed) == (["材质"], ["巡查日期"])
    assert service.versions(session, steward, r.code)[0].note == "补充材质"
    with pytest.raises(NotFound):
        service.diff(session, steward, r.code, 1, 9)


def test_an_update_is_checked_as_a_whole(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["urbansteward"])
    with pytest.raises(InvalidInput, match="open condition"):
        service.update_resource(
            session, people["urbansteward"], r.code, ResourceUpdate(open_type="conditional")
        )


def test_the_registration_workflow(session: Session) -> None:
    people = catalog_people(session)
    provider, reviewer = people["urbansteward"], people["bureausteward"]
    r = make_resource(session, provider)
    with pytest.raises(NotFound):  # a draft is its unit's own business
        service.transition(session, reviewer, r.code, "approve", Transition())
    with pytest.raises(Conflict) as early:
        service.transition(session, provider, r.code, "publish", Transition())
    assert "possible: submit" in early.value.message
    service.transition(session, provider, r.code, "submit", Transition())
    with pytest.raises(Forbidden):
        service.transition(session, provider, r.code, "approve", Transition())  # no self-review
    with pytest.raises(InvalidInput):
        service.transition(session, reviewer, r.code, "return", Transition())  # needs a reason
    service.transition(session, reviewer, r.code, "return", Transition(reason="摘要不完整"))
    with pytest.raises(NotFound):  # returned: a draft again, back in its unit's hands
        service.transition(session, reviewer, r.code, "approve", Transition())
    service.transition(session, provider, r.code, "submit", Transition())
    for action in ("approve", "register", "publish"):
        r = service.transition(session, reviewer, r.code, action, Transition())
    assert r.status is Status.published
    assert r.publish_date is not None
    with pytest.raises(Conflict):
        service.update_resource(session, provider, r.code, ResourceUpdate(name="改名"))
    r = service.transition(session, provider, r.code, "revise", Transition(reason="新增字段"))
    assert r.status is Status.draft
    entries, _ = ledger.find_entries(session, LedgerFilter(object_id=r.code, limit=50))
    actions = [e.action for e in reversed(entries)]
    assert actions == [
        "catalog.resource.create", "catalog.resource.submit", "catalog.resource.return",
        "catalog.resource.submit", "catalog.resource.approve", "catalog.resource.register",
        "catalog.resource.publish", "catalog.resource.revise",
    ]  # fmt: skip
    assert {e.actor_unit for e in entries if e.action.endswith(("approve", "publish"))} == {
        "fz.bigdata"
    }


def test_who_sees_what(session: Session) -> None:
    people = catalog_people(session)
    provider, reviewer, reader = people["urbansteward"], people["bureausteward"], people["reader"]
    draft = make_resource(session, provider, name="草稿资源")
    submitted = make_resource(session, provider, name="待审资源")
    service.transition(session, provider, submitted.code, "submit", Transition())

    def visible(p):  # type: ignore[no-untyped-def]
        return {
            r.code for r in service.get_accessible_resources(session, p, ResourceFilter()).resources
        }

    assert visible(provider) == {draft.code, submitted.code}
    assert visible(reviewer) == {submitted.code}  # no one else's drafts
    assert visible(reader) == set()
    with pytest.raises(NotFound):
        service.get_accessible_resource(session, reader, draft.code)
    for action in ("approve", "register"):
        service.transition(session, reviewer, submitted.code, action, Transition())
    assert visible(reader) == {submitted.code}


def test_district_catalogs_roll_up_into_the_city(session: Session) -> None:
    people = catalog_people(session)
    root = people["root"]
    make_unit(session, "tj.urban", "台江区城管局", region="350103", counterpart="fz.urban")
    city = make_resource(session, root)
    gulou = make_resource(session, root, provider_unit_code="gl.urban", name="鼓楼区井盖")
    taijiang = make_resource(session, root, provider_unit_code="tj.urban", name="台江区井盖")

    def codes(**kw):  # type: ignore[no-untyped-def]
        page = service.get_accessible_resources(session, root, ResourceFilter(**kw))
        return {r.code for r in page.resources}

    assert codes(region="350100") == {city.code, gulou.code, taijiang.code}
    assert codes(region="350100", subregions=False) == {city.code}
    assert codes(region="350102") == {gulou.code}
    assert codes(q="台江") == {taijiang.code}
    assert codes(base="geo") == {city.code, gulou.code, taijiang.code}
    assert codes(theme="医疗健康") == set()
