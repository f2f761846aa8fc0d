"""A share request for data graded too high to leave as rows, answered in the sandbox
(以沙箱方式答复): the providing unit's steward grants the requesting unit a privacy budget
instead of rows; nobody else can, the grant spends like any other, and no row can be read."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citybase.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from citybase.core.identity.schemas import Role
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading.schemas import Level
from citybase.data.sandbox import answers, service
from citybase.data.sandbox.models import SandboxGrant
from citybase.data.sandbox.schemas import GrantCreate, QueryCreate, QueryStatus, ShareAnswer
from citybase.data.sharing import access
from citybase.data.sharing import service as sharing
from citybase.data.sharing.models import ShareGrant
from citybase.data.sharing.schemas import ReadContext, RequestCreate, RequestStatus
from tests.core.identity.factories import make_user, principal_of, sign_in
from tests.data.sandbox.factories import KEYS, SETTINGS, declaration
from tests.data.sharing.factories import SharedCity, shared_city

ANSWER = ShareAnswer(epsilon=1.0, reason="重要数据不予以数据行共享，以沙箱方式提供统计分析")
SQL = 'SELECT 性别, COUNT(*) FROM "{code}" GROUP BY 性别'


def _request(session: Session, city: SharedCity) -> str:
    made = sharing.request_share(session, city.consumer, RequestCreate(
        resource_code=city.resource.code, purpose="违法行为与医保参保情况的统计分析",
        legal_basis="《数据安全法》第三十八条", fields=["性别", "罚款金额"], days=90,
    ))  # fmt: skip
    return made.number


def _city(session: Session, *, share_type: str = "conditional", level: Level = Level.important,
          declare: bool = True) -> tuple[SharedCity, str]:  # fmt: skip
    city = shared_city(session, share_type=share_type, level=level, rows=8)
    if declare:
        service.declare_resource(session, city.people["urbansteward"], city.resource.code,
                                 declaration())  # fmt: skip
    return city, _request(session, city)


def _state(session: Session, city: SharedCity, number: str) -> tuple[str, int, int]:
    (request,) = [r for r in sharing.list_requests(session, city.people["root"])
                  if r.number == number]  # fmt: skip
    grants = session.scalar(select(func.count()).select_from(SandboxGrant)) or 0
    rows = session.scalar(select(func.count()).select_from(ShareGrant)) or 0
    return request.status.value, grants, rows


def test_important_data_is_answered_by_a_grant_that_spends_and_reads_no_row(
    session: Session,
) -> None:
    city, number = _city(session)
    steward = city.people["urbansteward"]
    answered = answers.answer_share_request(session, steward, SETTINGS, number, ANSWER)
    assert answered.status == RequestStatus.sandboxed.value
    assert (answered.grant.unit_code, answered.grant.epsilon) == ("fz.health", 1.0)
    assert answered.grant.share_request == number
    assert answered.grant.purpose == "违法行为与医保参保情况的统计分析"
    (request,) = sharing.list_requests(session, city.consumer)
    assert (request.status, request.sandbox_grant_id) == (RequestStatus.sandboxed,
                                                          answered.grant.id)  # fmt: skip
    assert request.reason == ANSWER.reason
    # on the ledger: the answer (with the request's number) and the grant
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sharing.sandbox"))
    assert [e.case_number for e in entries] == [number]
    assert entries[0].details["sandbox_grant"] == answered.grant.id
    grants, _ = ledger.find_entries(session, LedgerFilter(action="sandbox.grant"))
    assert len(grants) == 1
    # no rows were granted: the traced read of rows is refused for want of a grant
    assert session.scalar(select(func.count()).select_from(ShareGrant)) == 0
    read = access.read_rows(session, city.consumer, city.resource.code,
                            ReadContext(purpose="统计分析"), RowQuery(), KEYS)  # fmt: skip
    assert isinstance(read, access.Refused)
    assert read.refusal.value == "no_grant"
    # the grant spends like any other
    asked, refused = service.ask_query(
        session, city.consumer, QueryCreate(sql=SQL.format(code=city.resource.code),
                                            epsilon=0.75), KEYS)  # fmt: skip
    assert refused is None, refused
    assert (asked.status, asked.remaining) == (QueryStatus.answered, 0.25)
    _over, refused = service.ask_query(
        session, city.consumer, QueryCreate(sql=SQL.format(code=city.resource.code),
                                            epsilon=0.5), KEYS)  # fmt: skip
    assert refused is not None
    assert refused.rule == "budget.exceeded"


def test_a_resource_not_shared_is_answered_after_the_catalogs_refusal(session: Session) -> None:
    city, number = _city(session, share_type="none", level=Level.general_4)
    assert _state(session, city, number) == ("refused", 0, 0)  # the catalog's 不予共享, at once
    answers.answer_share_request(session, city.people["urbansteward"], SETTINGS, number, ANSWER)
    assert _state(session, city, number) == ("sandboxed", 1, 0)
    # answered once only
    with pytest.raises(Conflict):
        answers.answer_share_request(session, city.people["urbansteward"], SETTINGS, number,
                                     ANSWER)  # fmt: skip
    assert _state(session, city, number) == ("sandboxed", 1, 0)


def test_an_undeclared_resource_is_declared_first(session: Session) -> None:
    city, number = _city(session, declare=False)
    with pytest.raises(InvalidInput) as refused:
        answers.answer_share_request(session, city.people["urbansteward"], SETTINGS, number,
                                     ANSWER)  # fmt: skip
    assert refused.value.details["rule"] == "sandbox.not_declared"
    assert "declares it first" in refused.value.message
    assert _state(session, city, number) == ("pending", 0, 0)


def test_data_that_may_leave_as_rows_is_decided_as_rows(session: Session) -> None:
    city, number = _city(session, level=Level.general_4)
    with pytest.raises(Conflict) as refused:
        answers.answer_share_request(session, city.people["urbansteward"], SETTINGS, number,
                                     ANSWER)  # fmt: skip
    assert refused.value.details["rule"] == "sharing.rows_allowed"
    assert _state(session, city, number) == ("pending", 0, 0)


def test_another_unit_cannot_answer_and_the_consumer_cannot_grant_itself(
    session: Session,
) -> None:
    city, number = _city(session)
    # another unit's steward: the request is not found, nothing changes
    with pytest.raises(NotFound):
        answers.answer_share_request(session, city.people["bureausteward"], SETTINGS, number,
                                     ANSWER)  # fmt: skip
    assert _state(session, city, number) == ("pending", 0, 0)
    # the requesting unit's own steward can neither answer it nor grant itself a budget
    make_user(session, "healthsteward", Role.data_steward, unit="fz.health")
    own = principal_of(session, "healthsteward")
    with pytest.raises(Forbidden):
        answers.answer_share_request(session, own, SETTINGS, number, ANSWER)
    with pytest.raises(Forbidden):
        service.grant_budget(session, own, SETTINGS, GrantCreate(
            resource_code=city.resource.code, unit_code="fz.health", epsilon=5,
            purpose="自行授权", legal_basis="无依据",
        ))  # fmt: skip
    assert _state(session, city, number) == ("pending", 0, 0)
    # nor can the requesting analyst ask: it holds no grant
    _, refused = service.ask_query(
        session, city.consumer, QueryCreate(sql=SQL.format(code=city.resource.code),
                                            epsilon=0.1), KEYS)  # fmt: skip
    assert refused is not None
    assert refused.rule == "grant.none"


def test_the_api_and_the_console_answer_and_show_it(
    client: TestClient, session: Session, form_token: Any
) -> None:
    city, number = _city(session)
    # the requesting unit's analyst cannot answer through the API either
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    denied = client.post(f"/api/v1/sandbox/share-requests/{number}/answer", json={"epsilon": 1})
    assert denied.status_code == 403
    assert _state(session, city, number) == ("pending", 0, 0)
    # the providing steward sees the choice on the sharing page and answers on the console
    client.cookies.clear()
    csrf = client.headers["X-CSRF-Token"] = sign_in(client, "urbansteward")
    page = client.get("/console/sharing")
    assert f"/console/sandbox/share-requests/{number}" in page.text
    assert "以沙箱方式答复" in page.text
    form = client.get(f"/console/sandbox/share-requests/{number}")
    assert form.status_code == 200
    assert "隐私预算" in form.text
    assert "重要数据" in form.text
    bad = client.post(f"/console/sandbox/share-requests/{number}",
                      data={"csrf_token": csrf, "form_token": form_token(), "epsilon": "-1"})  # fmt: skip
    assert bad.status_code == 422
    assert _state(session, city, number) == ("pending", 0, 0)
    sent = client.post(f"/console/sandbox/share-requests/{number}", data={
        "csrf_token": csrf, "form_token": form_token(), "epsilon": "2", "period": "year",
        "reason": "以沙箱方式提供统计"},
        follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303, sent.text
    assert _state(session, city, number) == ("sandboxed", 1, 0)
    # the requester's page says so, with a link to ask queries
    client.cookies.clear()
    client.headers["X-CSRF-Token"] = sign_in(client, "healthuser")
    mine = client.get("/console/sharing")
    assert "以沙箱方式答复" in mine.text
    assert f"/console/sandbox?resource={city.resource.code}" in mine.text
    (grant,) = client.get("/api/v1/sandbox/grants").json()
    assert (grant["share_request"], grant["epsilon"], grant["period"]) == (number, 2.0, "year")
    asked = client.get(f"/console/sandbox?resource={city.resource.code}")
    assert (
        f"SELECT COUNT(*) FROM &#34;{city.resource.code}&#34;" in asked.text
        or f'SELECT COUNT(*) FROM "{city.resource.code}"' in asked.text
    )
