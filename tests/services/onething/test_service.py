"""The one-thing service end to end on its services: the catalog, the one form pre-filled
through the traced read, submission into hub cases, following them, offers unasked."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from citybase.core import clock
from citybase.core.errors import Forbidden, InvalidInput, NotFound
from citybase.core.files import service as files
from citybase.core.ledger.models import LedgerEntry
from citybase.core.settings import Settings
from citybase.core.workdays import DEFAULT, WorkCalendar
from citybase.data.masking import operators as ops
from citybase.data.sharing.models import ShareAccess
from citybase.hub.cases import service as cases
from citybase.hub.cases.schemas import Action, ActionIn, CaseCreate, Channel, Source
from citybase.services.onething import repository, service
from citybase.services.onething.schemas import (
    ApplicationCreate,
    FieldSource,
    ProactiveRule,
    Supplement,
)
from tests.data.sharing.factories import citizen_id
from tests.services.onething.factories import (
    OneThingCity,
    death_record,
    item_spec,
    onething_city,
)

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe"
       b"\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")  # fmt: skip


@pytest.fixture
def city(session: Session, settings: Settings) -> OneThingCity:
    return onething_city(session, settings)


def _keys(settings: Settings) -> ops.Keys:
    return ops.keys_for(settings.masking_key)


def _file(session: Session, settings: Settings) -> str:
    return files.keep(session, settings, "zhangsan", "photo.png", PNG).id


def _apply(session: Session, settings: Settings, city: OneThingCity, **extra):  # type: ignore[no-untyped-def]
    photo = _file(session, settings)
    data = ApplicationCreate(item_code="test.thing", consent=True,
                             values={"办理事由": "新开店"},
                             materials={"photo": photo, "licence": photo} | extra)  # fmt: skip
    return service.submit(session, city.applicant, data, settings, _keys(settings))


def test_an_item_whose_matters_form_a_cycle_is_refused_naming_it(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    spec = item_spec(city.linked.shared.resource.code)
    spec.matters[0].needs = ["second"]
    with pytest.raises(InvalidInput) as err:
        service.save_item(session, None, spec)
    assert "循环依赖" in err.value.message
    assert "first → second → first" in err.value.message
    report = service.load_items(session, None, "items:\n  - code: x\n    name: y\n")
    assert report.problems
    assert not report.created


def test_loading_yaml_is_all_or_nothing(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    good = service.item_yaml(service.get_item(session, "test.thing")).replace(
        "test.thing", "test.two"
    )
    bad = good.replace("test.two", "test.three").replace("fz.urban", "fz.nowhere")
    text = "items:\n" + "\n".join(
        "  - " + doc.replace("\n", "\n    ").rstrip() for doc in (good, bad)
    )
    report = service.load_items(session, None, text)
    assert any("fz.nowhere" in p for p in report.problems)
    assert repository.item(session, "test.two") is None
    with pytest.raises(NotFound):
        service.get_item(session, "no.such")


def test_the_form_is_one_field_per_element_prefilled_through_the_traced_read(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    form = service.build_form(session, city.applicant, "test.thing", settings, _keys(settings))
    by = {f.element: f for f in form.fields}
    assert [f.element for f in form.fields].count("姓名") == 1
    assert by["姓名"].matters == ["first", "second"]
    assert by["公民身份号码"].value == city.number
    assert by["公民身份号码"].source is FieldSource.library
    assert by["违法事由"].source is FieldSource.resource  # a shared resource's row of this person
    assert by["违法事由"].value
    assert city.linked.shared.resource.code in by["违法事由"].source_ref
    assert by["办理事由"].source is FieldSource.applicant
    assert by["办理事由"].value is None
    assert form.prefilled == 5
    assert form.total == 6
    materials = {m.code: m for m in form.materials}
    assert materials["photo"].matters == ["first", "second"]
    assert materials["licence"].proven.startswith("居住证")  # 免证明: the certificate, checked
    assert materials["licence"].certificate_id
    other = service.build_form(session, city.other, "test.thing", settings, _keys(settings))
    assert "未找到" in {m.code: m for m in other.materials}["licence"].seam  # he holds none
    from citybase.core.identity import service as identity
    from citybase.data.certificates import service as certificates
    from citybase.data.certificates.schemas import Revocation

    certificates.revoke_certificate(session, identity.principal_for(session, "healthcert"),
                                    materials["licence"].certificate_id,
                                    Revocation(reason="迁出"))  # fmt: skip
    again = service.build_form(session, city.applicant, "test.thing", settings, _keys(settings))
    revoked = {m.code: m for m in again.materials}["licence"]
    assert not revoked.proven  # a revoked certificate proves nothing: the material is asked for
    assert revoked.seam
    reads = session.scalars(select(ShareAccess).where(ShareAccess.id.in_(form.access_ids))).all()
    assert len(reads) == 2
    assert all(r.legal_basis.startswith("申请人授权") for r in reads)
    assert all(r.consumer_unit_code == "fz.health" for r in reads)


def test_a_field_the_sharing_rules_refuse_says_why(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    from citybase.data.datastore import service as datastore
    from tests.data.catalog.factories import make_published
    from tests.data.sharing.factories import ITEMS, person_rows

    people = city.linked.shared.people
    closed = make_published(session, people, name="不予共享的违法记录", items=ITEMS,
                            share_type="none", base_tags=[], theme_tags=["城乡建设"])  # fmt: skip
    datastore.load_rows(session, people["urbansteward"], closed.code, person_rows(6), "test")
    service.save_item(session, None, item_spec(closed.code))
    form = service.build_form(session, city.applicant, "test.thing", settings, _keys(settings))
    by = {f.element: f for f in form.fields}
    assert by["违法事由"].value is None
    assert "不予共享" in by["违法事由"].refused


def test_the_deceaseds_certificate_proves_a_material_for_the_family_the_record_names(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    elder = citizen_id(9)
    identifier = death_record(session, settings, city, elder, family=city.number)
    form = service.build_form(session, city.applicant, "test.after_death", settings,
                              _keys(settings))  # fmt: skip
    by = {f.element: f for f in form.fields}
    assert by["逝者公民身份号码"].value == elder
    assert by["逝者公民身份号码"].source is FieldSource.resource
    card = {m.code: m for m in form.materials}["elder_card"]
    assert card.certificate_id == identifier  # 免证明 with the deceased's own certificate
    assert "持证人：逝者公民身份号码 张老汉" in card.proven
    app = service.submit(session, city.applicant, ApplicationCreate(
        item_code="test.after_death", consent=True, values={}, materials={},
    ), settings, _keys(settings))  # fmt: skip
    assert app.number
    entry = session.scalars(select(LedgerEntry).where(
        LedgerEntry.action == "onething.application.submitted",
        LedgerEntry.object_id == app.number)).one()  # fmt: skip
    assert entry.details["certificates"] == [identifier]


def test_a_number_the_applicant_types_never_unlocks_anothers_certificate(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    elder = citizen_id(9)
    death_record(session, settings, city, elder, family=city.number)
    form = service.build_form(session, city.other, "test.after_death", settings, _keys(settings))
    field = {f.element: f for f in form.fields}["逝者公民身份号码"]
    assert field.source is FieldSource.applicant  # no record ties him to the elder
    card = {m.code: m for m in form.materials}["elder_card"]
    assert not card.proven
    assert not card.certificate_id
    assert "未能从登记信息中确认" in card.seam
    typed = ApplicationCreate(item_code="test.after_death", consent=True,
                              values={"逝者公民身份号码": elder}, materials={})  # fmt: skip
    with pytest.raises(InvalidInput) as err:
        service.submit(session, city.other, typed, settings, _keys(settings))
    assert "缺少材料：「逝者居住证」" in err.value.message
    assert not repository.applications_of(session, city.other.user_id)


def test_a_revoked_certificate_of_the_deceased_proves_nothing(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    from citybase.core.identity import service as identity
    from citybase.data.certificates import service as certificates
    from citybase.data.certificates.schemas import Revocation

    identifier = death_record(session, settings, city, citizen_id(9), family=city.number)
    certificates.revoke_certificate(session, identity.principal_for(session, "healthcert"),
                                    identifier, Revocation(reason="注销"))  # fmt: skip
    form = service.build_form(session, city.applicant, "test.after_death", settings,
                              _keys(settings))  # fmt: skip
    card = {m.code: m for m in form.materials}["elder_card"]
    assert not card.proven
    assert "逝者公民身份号码" in card.seam


def test_a_holder_field_must_be_filled_from_a_register(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    spec = item_spec(city.linked.shared.resource.code)
    spec.matters[1].materials[1].holder = "住址"  # the applicant types it: refused
    spec.matters[1].materials[0].holder = "违法事由"  # a material no certificate proves
    with pytest.raises(InvalidInput) as err:
        service.save_item(session, None, spec)
    assert "持证人字段「住址」须由共享资源按申请人本人的记录预填" in err.value.message
    assert "只有由电子证照证明的材料才能指定持证人字段" in err.value.message


def test_nothing_is_created_when_a_material_or_field_is_missing(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    data = ApplicationCreate(item_code="test.thing", consent=True, values={}, materials={})
    with pytest.raises(InvalidInput) as err:
        service.submit(session, city.applicant, data, settings, _keys(settings))
    assert "缺少材料" in err.value.message
    assert "居住证" not in err.value.message  # proven by the applicant's certificate
    assert "请填写「办理事由」" in err.value.message
    assert not repository.applications_of(session, city.applicant.user_id)
    with pytest.raises(InvalidInput) as err:
        service.submit(session, city.applicant, data.model_copy(update={"consent": False}),
                       settings, _keys(settings))  # fmt: skip
    assert err.value.field == "consent"


def test_matters_become_cases_in_order_and_the_application_follows_them(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    app = _apply(session, settings, city)
    assert app.number.startswith("YJS")
    assert app.state == "in_progress"
    first, second = app.matters
    assert first.state == "handling"
    assert first.case_number
    assert second.state == "waiting"
    case = cases.get_for_system(session, first.case_number)
    assert case.dispatched_at is not None
    assert case.handle_due == DEFAULT.add(case.dispatched_at, 5 * 24)  # 5 working days
    assert case.lead_unit == "fz.health"
    assert case.state == "dispatched"
    health = cases.Mover.of(session, city.health)
    urban = cases.Mover.of(session, city.urban)
    # a unit handles only its own matter's case
    with pytest.raises((Forbidden, NotFound)):
        cases.act(session, urban, first.case_number, Action.sign, ActionIn())
    cases.act(session, health, first.case_number, Action.sign, ActionIn())
    cases.act(session, health, first.case_number, Action.reply, ActionIn(reply="已登记"))
    service.on_case_changed(session, first.case_number, "reply", cal=DEFAULT)
    app = service.get_application(session, city.applicant, app.number)
    first, second = app.matters
    assert first.state == "done"
    assert first.result == "已登记"
    assert second.state == "handling"
    assert second.case_number
    cases.act(session, urban, second.case_number, Action.return_, ActionIn(note="请补充租赁合同"))
    service.on_case_changed(session, second.case_number, "return", cal=DEFAULT)
    app = service.get_application(session, city.applicant, app.number)
    assert app.state == "needs_material"
    assert app.matters[1].asked == "请补充租赁合同"
    with pytest.raises(NotFound):  # only the applicant supplements
        service.supplement(session, city.other, app.number, "second", Supplement(note="x"),
                           cal=DEFAULT)  # fmt: skip
    service.supplement(session, city.applicant, app.number, "second",
                       Supplement(note="已补充", materials={"lease": _file(session, settings)}),
                       cal=DEFAULT)  # fmt: skip
    assert cases.get_for_system(session, second.case_number).lead_unit == "fz.urban"
    cases.act(session, urban, second.case_number, Action.sign, ActionIn())
    cases.act(session, urban, second.case_number, Action.reply, ActionIn(reply="已备案"))
    service.on_case_changed(session, second.case_number, "reply", cal=DEFAULT)
    app = service.get_application(session, city.applicant, app.number)
    assert app.state == "completed"
    assert app.completed_at is not None
    actions = set(session.scalars(select(LedgerEntry.action).where(
        LedgerEntry.object_id == app.number)).all())  # fmt: skip
    assert {
        "onething.application.submitted",
        "onething.matter.returned",
        "onething.matter.supplemented",
        "onething.matter.done",
    } <= actions


def test_an_applicant_sees_only_his_own_and_a_unit_only_its_part(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    app = _apply(session, settings, city)
    with pytest.raises(NotFound):
        service.get_application(session, city.other, app.number)
    seen = service.get_application(session, city.health, app.number)
    assert "办理事由" in seen.form
    assert "违法事由" not in seen.form
    assert service.my_applications(session, city.other) == []


def test_offers_are_made_to_who_qualifies_once_and_confirmed_or_declined(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    spec = item_spec(city.linked.shared.resource.code, code="test.retire", name="退休",
                     proactive=ProactiveRule(min_age=60))  # fmt: skip
    spec.matters = spec.matters[:1]
    service.save_item(session, None, spec)
    # citizen_id(3) was born 1963-04-04, citizen_id(4) 1964-05-05
    made = service.make_offers(session, settings, _keys(settings), today=date(2024, 1, 1))
    assert made == 1
    assert service.make_offers(session, settings, _keys(settings), today=date(2024, 1, 1)) == 0
    offer = service.offers_of(session, city.applicant)[0]
    assert offer.proactive
    assert offer.state == "offered"
    assert service.offers_of(session, city.other) == []
    photo = _file(session, settings)
    done = service.submit(session, city.applicant, ApplicationCreate(
        item_code="test.retire", consent=True, values={"办理事由": "退休"},
        materials={"photo": photo}, offer=offer.number), settings, _keys(settings))  # fmt: skip
    assert done.number == offer.number
    assert done.state == "in_progress"
    assert done.proactive
    assert service.make_offers(session, settings, _keys(settings), today=date(2025, 6, 1)) == 1
    other = service.offers_of(session, city.other)[0]
    assert service.decline_offer(session, city.other, other.number).state == "declined"


def test_the_bus_carries_a_units_reply_to_the_next_matter(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    """The consumer registered on hub.case.changed, fed the events the hub wrote to the outbox."""
    from citybase.core.bus.models import Job, OutboxEvent
    from citybase.core.bus.schemas import EventEnvelope
    from citybase.core.bus.service import JobContext
    from citybase.services.onething import tasks

    app = _apply(session, settings, city)
    first = app.matters[0].case_number
    health = cases.Mover.of(session, city.health)
    cases.act(session, health, first, Action.sign, ActionIn())
    cases.act(session, health, first, Action.reply, ActionIn(reply="已登记"))
    session.flush()
    events = session.scalars(
        select(OutboxEvent).where(OutboxEvent.topic == "hub.case.changed").order_by(OutboxEvent.id)
    ).all()
    mine = [e for e in events if e.payload.get("number") == first]
    assert [e.payload["action"] for e in mine][-2:] == ["sign", "reply"]
    for event in mine:  # every step, replayed twice: the second time changes nothing
        for _ in range(2):
            tasks.on_case_changed(session, EventEnvelope(
                event_id=event.event_id, topic=event.topic, payload=event.payload,
                created_at=event.created_at))  # fmt: skip
    stored = session.scalars(select(Job).where(Job.kind == tasks.FOLLOW).order_by(Job.id)).all()
    assert [j.payload["action"] for j in stored] == ["reply", "reply"]  # the sign is not followed
    for job in stored:  # run by the worker, which hands the job the settings
        tasks.follow_case(JobContext(session=session, settings=settings, payload=dict(job.payload)))
    after = service.get_application(session, city.applicant, app.number)
    assert [m.state for m in after.matters] == ["done", "handling"]
    opened = session.scalars(select(LedgerEntry).where(
        LedgerEntry.action == "onething.matter.opened",
        LedgerEntry.object_id == app.number)).all()  # fmt: skip
    assert len(opened) == 2


def _follow_by_the_bus(session: Session, settings: Settings, number: str) -> None:
    """The hub's events about case ``number`` through the consumer, then the jobs it stored
    run as the worker runs them (with the settings)."""
    from citybase.core.bus.models import Job, OutboxEvent
    from citybase.core.bus.schemas import EventEnvelope
    from citybase.core.bus.service import JobContext
    from citybase.services.onething import tasks

    session.flush()
    for event in session.scalars(select(OutboxEvent).where(
            OutboxEvent.topic == "hub.case.changed").order_by(OutboxEvent.id)):  # fmt: skip
        if event.payload.get("number") == number:
            tasks.on_case_changed(session, EventEnvelope(
                event_id=event.event_id, topic=event.topic, payload=event.payload,
                created_at=event.created_at))  # fmt: skip
    for job in session.scalars(
        select(Job).where(Job.kind == tasks.FOLLOW, Job.status == "pending")
    ):
        tasks.follow_case(JobContext(session=session, settings=settings, payload=dict(job.payload)))
        job.status = "done"


def test_a_holiday_in_the_citys_calendar_file_moves_the_matters_deadlines(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    """``<home>/calendar.yaml`` declares the next two weeks holidays (as a city does for a year
    the built-in calendar does not know yet): the first matter's case, and the second's opened
    by the worker once the first is replied, count their working days around them."""
    today = clock.today()
    days = [today + timedelta(days=n) for n in range(-1, 15)]
    settings.home.mkdir(parents=True, exist_ok=True)
    path = settings.home / "calendar.yaml"
    path.write_text(f"holidays: [{', '.join(d.isoformat() for d in days)}]\n", encoding="utf-8")
    city_cal = WorkCalendar.from_file(path)
    app = _apply(session, settings, city)
    first = cases.get_for_system(session, app.matters[0].case_number)
    assert first.dispatched_at is not None
    assert first.handle_due is not None
    assert first.handle_due == city_cal.add(first.dispatched_at, 5 * 24)
    assert first.handle_due.astimezone(clock.CITY_TZ).date() > days[-1]
    assert first.handle_due != DEFAULT.add(first.dispatched_at, 5 * 24)  # the file is not ignored
    health = cases.Mover.of(session, city.health)
    cases.act(session, health, first.number, Action.sign, ActionIn(), cal=city_cal)
    cases.act(session, health, first.number, Action.reply, ActionIn(reply="已登记"), cal=city_cal)
    _follow_by_the_bus(session, settings, first.number)
    app = service.get_application(session, city.applicant, app.number)
    assert app.matters[1].state == "handling"
    second = cases.get_for_system(session, app.matters[1].case_number)
    assert second.dispatched_at is not None
    assert second.handle_due is not None
    assert second.handle_due == city_cal.add(second.dispatched_at, 3 * 24)
    assert second.handle_due != DEFAULT.add(second.dispatched_at, 3 * 24)


def test_a_matters_case_does_not_move_the_12345_figures(
    session: Session, settings: Settings, city: OneThingCity
) -> None:
    """A matter's case is work the one-thing service hands a unit (source ``work``), not a
    request to the 12345 centre: taken in, returned by its unit and replied, it moves none of
    the centre's figures (cases, 退单率, 按时办结率…) — kept, counted from the cases, or rebuilt —
    while a 12345 case beside it does."""

    def counts(by: str | None = None) -> list[dict[str, int]]:
        return [f.counts for f in cases.figures(session, by)]

    before, before_units = counts(), counts("unit")
    app = _apply(session, settings, city)
    first = cases.get_for_system(session, app.matters[0].case_number)
    assert first.source == "work"
    health = cases.Mover.of(session, city.health)
    cases.act(session, health, first.number, Action.sign, ActionIn())
    cases.act(session, health, first.number, Action.return_, ActionIn(note="请补充材料"))
    service.on_case_changed(session, first.number, "return", cal=DEFAULT)
    service.supplement(session, city.applicant, app.number, "first",
                       Supplement(note="已补充"), cal=DEFAULT)  # fmt: skip
    cases.act(session, health, first.number, Action.sign, ActionIn())
    cases.act(session, health, first.number, Action.reply, ActionIn(reply="已登记"))
    assert cases.get_for_system(session, first.number).return_count == 1
    assert counts() == before
    assert counts("unit") == before_units
    assert [f.counts for f in cases.figures_from_cases(session)] == before
    cases.rebuild_stats(session)
    assert counts() == before
    # the same city's 12345 centre takes a request in: that one counts
    cases.intake(session, cases.Mover.system("test"), CaseCreate(
        source=Source.hotline, channel=Channel.phone, text="路灯不亮", region_code=first.region_code,
    ))  # fmt: skip
    assert sum(f.counts["cases"] for f in cases.figures(session)) == 1
    with pytest.raises(InvalidInput) as refused:  # work comes from its service, not the desk
        cases.intake(session, cases.Mover.system("test"), CaseCreate(
            source=Source.work, text="一件事的事项", region_code=first.region_code))  # fmt: skip
    assert refused.value.field == "source"
