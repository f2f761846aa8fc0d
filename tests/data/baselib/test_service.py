from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden
from citybase.core.settings import Settings
from citybase.data.baselib import service
from citybase.data.baselib.schemas import Decision, Kind, ReviewDecide, ReviewStatus
from citybase.data.datastore import service as datastore
from citybase.data.masking import operators as ops
from citybase.data.quality import service as quality
from citybase.data.sharing import access
from tests.data.baselib.factories import health_rows, linked_city
from tests.data.sharing.factories import citizen_id


def _run(session: Session, settings: Settings, steward):  # type: ignore[no-untyped-def]
    return service.link_base_library(
        session, steward, Kind.person, settings.baselib, ops.keys_for(settings.masking_key)
    )


def _entity_of(session: Session, uid: str) -> int:
    from citybase.data.baselib import repository

    return next(link.entity_id for link in repository.links(session, "person")
                if link.record_uid == uid)  # fmt: skip


def test_both_units_resources_are_person_sources_and_neither_an_enterprise_one(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    codes = {s.resource.code for s in service.sources_of(session, Kind.person)}
    assert codes == {city.shared.resource.code, city.health.code}
    assert service.sources_of(session, Kind.enterprise) == []


def test_a_run_links_the_same_people_across_units(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    urban, health = city.shared.resource.code, city.health.code
    run = _run(session, settings, city.steward)
    assert run.records == 12
    # five people in both, one only at fz.urban, one only at fz.health
    assert run.entities == 7
    for i in range(5):  # row numbers start at 1
        assert _entity_of(session, f"{urban}#{i + 1}") == _entity_of(session, f"{health}#{i + 1}")
    assert _entity_of(session, f"{urban}#6") != _entity_of(session, f"{health}#6")
    # the model as the steward sees it: every comparison with its levels' weights
    names = [c["name"] for c in run.model["comparisons"]]
    assert names == ["citizen_id", "name", "birth", "sex", "mobile", "address"]
    assert run.model["blocking_rules"][0] == "l.id18 = r.id18"


def test_the_authoritative_units_value_wins_and_the_other_is_disputed(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    _run(session, settings, city.steward)
    from citybase.data.baselib import repository

    entity = _entity_of(session, f"{city.health.code}#3")
    fields = {g.field: g for g in repository.golden(session, entity)}
    mobile = fields["mobile"]
    assert mobile.value == "13900000002"  # fz.health is the register's source of phone numbers
    assert (mobile.unit_code, mobile.authoritative) == ("fz.health", True)
    assert [a["value"] for a in mobile.alternatives] == ["13800130002"]
    assert mobile.dispute_number
    disputes = quality.list_disputes(session, city.shared.people["urbansteward"])
    dispute = next(d for d in disputes if d.number == mobile.dispute_number)
    assert (dispute.resource_code, dispute.item) == (city.shared.resource.code, "手机号码")
    # the old 15-digit number is kept in its 18-digit form
    first = {
        g.field: g for g in repository.golden(session, _entity_of(session, f"{city.health.code}#1"))
    }
    assert first["citizen_id"].value == citizen_id(0)


def test_files_keep_their_ids_and_disputes_are_not_raised_twice(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    _run(session, settings, city.steward)
    before = {u: _entity_of(session, f"{city.health.code}#{u}") for u in range(1, 7)}
    count = len(quality.list_disputes(session, city.steward))
    _run(session, settings, city.steward)
    assert {u: _entity_of(session, f"{city.health.code}#{u}") for u in range(1, 7)} == before
    assert len(quality.list_disputes(session, city.steward)) == count


def _with_a_sibling(session: Session, city) -> None:  # type: ignore[no-untyped-def]
    rows = [*health_rows(), {"姓名": "张杰", "身份证号": "", "联系电话": "",
                             "居住地址": "鼓楼区五四路1号"}]  # fmt: skip
    datastore.load_rows(session, city.health_steward, city.health.code, rows, "test")


def test_an_unsure_pair_waits_for_a_steward_and_a_split_binds_later_runs(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    _with_a_sibling(session, city)
    settings.baselib.match_threshold = 0.99999
    settings.baselib.review_threshold = 0.5
    sibling = f"{city.health.code}#7"
    _run(session, settings, city.steward)
    queue = service.list_reviews(session, city.steward, Kind.person, settings.baselib)
    about = [r for r in queue if sibling in (r.left_uid, r.right_uid)]
    assert about, "the sibling (张杰 at 张伟's address) is asked about"
    assert all(r.weights["name"] < 5 and r.levels["name"] == "一字之差" for r in about)
    assert _entity_of(session, sibling) != _entity_of(session, f"{city.health.code}#1")
    for item in about:
        service.decide_review(session, city.steward, item.id,
                              ReviewDecide(decision=Decision.apart, reason="兄弟二人"),
                              settings.baselib)  # fmt: skip
    settings.baselib.match_threshold = 0.99  # the score alone would now join them
    _run(session, settings, city.steward)
    assert _entity_of(session, sibling) != _entity_of(session, f"{city.health.code}#1")
    assert _entity_of(session, sibling) != _entity_of(session, f"{city.shared.resource.code}#1")
    still = service.list_reviews(session, city.steward, Kind.person, settings.baselib)
    assert not [r for r in still if sibling in (r.left_uid, r.right_uid)]
    decided = service.list_reviews(session, city.steward, Kind.person, settings.baselib,
                                   ReviewStatus.apart)  # fmt: skip
    assert len(decided) == len(about)


def test_a_confirmed_pair_is_joined_whatever_its_score(
    session: Session, settings: Settings
) -> None:
    city = linked_city(session, settings)
    _with_a_sibling(session, city)
    settings.baselib.match_threshold = 0.99999
    settings.baselib.review_threshold = 0.5
    sibling = f"{city.health.code}#7"
    _run(session, settings, city.steward)
    item = next(r for r in service.list_reviews(session, city.steward, Kind.person,
                                                settings.baselib)
                if sibling in (r.left_uid, r.right_uid))  # fmt: skip
    service.decide_review(session, city.steward, item.id,
                          ReviewDecide(decision=Decision.confirm, reason="同一人，曾用名"),
                          settings.baselib)  # fmt: skip
    _run(session, settings, city.steward)
    assert _entity_of(session, item.left_uid) == _entity_of(session, item.right_uid)


def test_only_the_steward_unit_runs_the_library(session: Session, settings: Settings) -> None:
    city = linked_city(session, settings)
    for who in (city.shared.people["urbansteward"], city.shared.consumer, city.health_steward):
        with pytest.raises(Forbidden):
            _run(session, settings, who)
    assert service.count_files(session, Kind.person) == 0


def test_an_enterprise_file_keeps_its_legal_representatives_id_as_a_keyed_hash(
    session: Session, settings: Settings
) -> None:
    """The market register names each firm's legal representative by citizen ID: the firm's
    file keeps it (a field of its own) and its keyed hash, by which the citizen finds the firms
    he represents; the register is no person source (its address is the firm's)."""
    from citybase.data.sharing.schemas import Basis, ReadContext
    from tests.services.onething.factories import onething_city
    from tests.services.portal.factories import FIRMS, firm_city

    firms = firm_city(session, settings, onething_city(session, settings))
    assert firms.register.code not in {
        s.resource.code for s in service.sources_of(session, Kind.person)
    }
    assert firms.register.code in {
        s.resource.code for s in service.sources_of(session, Kind.enterprise)
    }
    keys = ops.keys_for(settings.masking_key)
    rep = ops.subject_tag(citizen_id(3), keys)
    assert service.enterprises_represented_by(session, rep) == [
        (firms.ids[0], ops.subject_tag(FIRMS[0][0], keys))
    ]
    assert service.enterprises_represented_by(session, "") == []
    basis = Basis(kind="legal_representative", ref="t", legal_basis="测试", fields=(),
                  purpose="测试", action="portal.enterprise.read")  # fmt: skip
    ctx = ReadContext(purpose="测试")
    served = service.read_file_as_representative(
        session, firms.city.applicant, firms.ids[0], rep, ctx, keys, settings.baselib, basis
    )
    assert not isinstance(served, access.Refused)
    held = {f.field: f for f in served.fields}
    assert held["legal_rep_id"].masked  # graded as personal information: masked
    assert held["legal_rep_id"].value != citizen_id(3)
    for entity_id, person in ((firms.ids[1], rep), (firms.ids[0], ops.subject_tag(citizen_id(4), keys)),
                              (firms.ids[0], ""), (10**9, rep)):  # fmt: skip
        with pytest.raises(Forbidden):
            service.read_file_as_representative(
                session, firms.city.applicant, entity_id, person, ctx, keys, settings.baselib, basis
            )
    # the steward reads it in the clear, traced as any read of a file
    kept = service.read_file(session, firms.city.keeper, Kind.enterprise, firms.ids[0],
                             ReadContext(purpose="核查"), keys, settings.baselib)  # fmt: skip
    assert not isinstance(kept, access.Refused)
    assert {f.field: f.value for f in kept.fields}["legal_rep_id"] == citizen_id(3)
