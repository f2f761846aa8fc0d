from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.sharing import demand
from citybase.data.sharing.schemas import AnswerCreate, DemandCreate, DemandMatch
from tests.data.sharing.factories import shared_city

NEED = DemandCreate(
    title="违法当事人名单", description="需要城管执法中的违法当事人姓名与性别，用于医保稽核比对",
    purpose="医保基金稽核", legal_basis="《医疗保障基金使用监督管理条例》", items=["姓名", "性别"],
    provider_unit_code="fz.urban",
)  # fmt: skip


def test_a_demand_is_answered_and_becomes_a_request(session: Session) -> None:
    city = shared_city(session, share_type="conditional")
    posted = demand.post(session, city.consumer, NEED)
    assert (posted.status.value, posted.consumer_unit_code) == ("open", "fz.health")
    steward = city.people["urbansteward"]
    with pytest.raises(InvalidInput):  # an offer names its resource
        demand.answer(session, steward, posted.number, AnswerCreate(kind="offer"))
    with pytest.raises(Forbidden):  # one does not answer one's own demand
        demand.answer(
            session, city.consumer, posted.number, AnswerCreate(kind="planned", message="x")
        )
    answered = demand.answer(
        session, steward, posted.number,
        AnswerCreate(kind="offer", resource_code=city.resource.code, message="已编目，可申请"),
    )  # fmt: skip
    assert answered.status.value == "answered"
    offer = answered.answers[0]
    with pytest.raises(Forbidden):  # only the demanding unit takes the offer
        demand.match(
            session, steward, posted.number, DemandMatch(answer_id=offer.id, fields=["姓名"])
        )
    request = demand.match(
        session,
        city.consumer,
        posted.number,
        DemandMatch(answer_id=offer.id, fields=["姓名", "性别"]),
    )
    assert (request.status.value, request.purpose) == ("pending", "医保基金稽核")
    matched = demand.get(session, posted.number)
    assert (matched.status.value, matched.request_number) == ("matched", request.number)
    with pytest.raises(Conflict):
        demand.match(
            session, city.consumer, posted.number, DemandMatch(answer_id=offer.id, fields=["姓名"])
        )
    actions = [
        e.action for e in ledger.find_entries(session, LedgerFilter(object_id=posted.number))[0]
    ]
    assert {"sharing.demand.post", "sharing.demand.answer", "sharing.demand.match"} <= set(actions)


def test_a_provider_offers_only_its_own_resources_and_may_say_no(session: Session) -> None:
    city = shared_city(session)
    posted = demand.post(session, city.consumer, NEED)
    with pytest.raises(Forbidden):
        demand.answer(session, city.people["bureausteward"], posted.number,
                      AnswerCreate(kind="offer", resource_code=city.resource.code))  # fmt: skip
    with pytest.raises(InvalidInput):  # a no says why
        demand.answer(session, city.people["bureausteward"], posted.number,
                      AnswerCreate(kind="unavailable"))  # fmt: skip
    said = demand.answer(session, city.people["bureausteward"], posted.number,
                         AnswerCreate(kind="unavailable", message="本单位不采集该数据"))  # fmt: skip
    assert said.answers[0].kind.value == "unavailable"
    assert [d.number for d in demand.list_demands(session)] == [posted.number]
    closed = demand.close(session, city.consumer, posted.number, "已另行解决")
    assert closed.status.value == "closed"
