from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.sharing import repository, service
from citybase.data.sharing.schemas import Decision, RequestCreate, Revocation
from tests.core.identity.factories import make_user, principal_of
from tests.core.orgs.factories import make_unit
from tests.data.catalog.factories import catalog_people, make_published

FIELDS = ["井盖编号", "权属单位"]


def _people(session: Session):  # type: ignore[no-untyped-def]
    people = catalog_people(session)
    make_unit(session, "fz.health", "福州市卫生健康委员会")
    make_user(session, "healthuser", Role.data_consumer, unit="fz.health")
    people["consumer"] = principal_of(session, "healthuser")
    return people


def _ask(code: str, **overrides: object) -> RequestCreate:
    values: dict[str, object] = {"resource_code": code, "purpose": "核对井盖权属", "legal_basis": "城市管理条例",
                                 "fields": FIELDS, "days": 30}  # fmt: skip
    return RequestCreate.model_validate(values | overrides)


def test_unconditionally_shared_data_is_granted_at_once(session: Session) -> None:
    people = _people(session)
    r = make_published(session, people)
    request = service.request_share(session, people["consumer"], _ask(r.code))
    assert (request.status.value, request.consumer_unit_code) == ("granted", "fz.health")
    grant = service.grant_for(session, people["consumer"], r.code)
    assert grant is not None
    assert grant.fields == FIELDS
    assert grant.valid_until - grant.granted_at == timedelta(days=30)
    actions = [e.action for e in ledger.find_entries(session, LedgerFilter(object_id=r.code))[0]]
    assert {"sharing.request", "sharing.grant"} <= set(actions)


def test_conditional_sharing_waits_for_the_provider_who_may_grant_less(session: Session) -> None:
    people = _people(session)
    r = make_published(session, people, share_type="conditional", share_condition="履职需要")
    request = service.request_share(session, people["consumer"], _ask(r.code))
    assert request.status.value == "pending"
    assert service.grant_for(session, people["consumer"], r.code) is None
    with pytest.raises(Forbidden):  # the requester cannot decide its own request
        service.decide(session, people["consumer"], request.number, Decision(approve=True))
    with pytest.raises(NotFound):  # a third unit does not see it
        service.decide(session, people["bureausteward"], request.number, Decision(approve=True))
    with pytest.raises(InvalidInput) as caught:
        service.decide(session, people["urbansteward"], request.number,
                       Decision(approve=True, fields=["巡查日期"]))  # fmt: skip
    assert caught.value.field == "fields"
    granted = service.decide(session, people["urbansteward"], request.number,
                             Decision(approve=True, fields=["井盖编号"], days=7, reason="够用"))  # fmt: skip
    assert granted.status.value == "granted"
    grant = service.grant_for(session, people["consumer"], r.code)
    assert grant is not None
    assert (grant.fields, grant.request_number) == (["井盖编号"], request.number)
    with pytest.raises(Conflict):
        service.decide(session, people["urbansteward"], request.number, Decision(approve=True))


def test_not_shared_data_is_refused_with_the_catalogs_reason(session: Session) -> None:
    people = _people(session)
    r = make_published(session, people, share_type="none", share_condition="涉及执法秘密")
    request = service.request_share(session, people["consumer"], _ask(r.code))
    assert request.status.value == "refused"
    assert "涉及执法秘密" in request.reason


def test_a_refusal_needs_a_reason_and_a_request_checks_its_fields(session: Session) -> None:
    people = _people(session)
    r = make_published(session, people, share_type="conditional", share_condition="履职需要")
    with pytest.raises(InvalidInput) as caught:
        service.request_share(session, people["consumer"], _ask(r.code, fields=["颜色"]))
    assert caught.value.field == "fields"
    with pytest.raises(InvalidInput) as caught:
        service.request_share(session, people["consumer"], _ask(r.code, api_key_ids=[999]))
    assert caught.value.field == "api_key_ids"
    with pytest.raises(Conflict):  # one's own data is read directly
        service.request_share(session, people["urbansteward"], _ask(r.code))
    draft = make_published(session, people, until="submit")
    with pytest.raises((Conflict, NotFound)):
        service.request_share(session, people["consumer"], _ask(draft.code))
    request = service.request_share(session, people["consumer"], _ask(r.code))
    with pytest.raises(InvalidInput):
        service.decide(session, people["urbansteward"], request.number, Decision(approve=False))
    refused = service.decide(session, people["urbansteward"], request.number,
                             Decision(approve=False, reason="用途与职责无关"))  # fmt: skip
    assert refused.reason == "用途与职责无关"
    second = service.request_share(session, people["consumer"], _ask(r.code))
    assert service.withdraw(session, people["consumer"], second.number).status.value == "withdrawn"


def test_grants_end_by_revocation_or_by_time(session: Session) -> None:
    people = _people(session)
    r = make_published(session, people)
    service.request_share(session, people["consumer"], _ask(r.code))
    grant = service.grant_for(session, people["consumer"], r.code)
    assert grant is not None
    revoked = service.revoke(
        session, people["urbansteward"], grant.id, Revocation(reason="用途已完成")
    )
    assert revoked.state.value == "revoked"
    assert service.grant_for(session, people["consumer"], r.code) is None
    with pytest.raises(Conflict):
        service.revoke(session, people["urbansteward"], grant.id, Revocation(reason="再次"))
    service.request_share(session, people["consumer"], _ask(r.code))
    again = service.grant_for(session, people["consumer"], r.code)
    assert again is not None
    stored = repository.grant(session, again.id)
    assert stored is not None
    stored.valid_until = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    assert service.grant_for(session, people["consumer"], r.code) is None
    states = {g.state.value for g in service.list_grants(session, people["urbansteward"], r.code)}
    assert states == {"revoked", "expired"}
    with pytest.raises(NotFound):  # only the provider revokes
        service.revoke(session, people["consumer"], again.id, Revocation(reason="不要了"))
