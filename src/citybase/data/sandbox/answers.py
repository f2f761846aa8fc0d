"""Share requests answered in the sandbox (以沙箱方式答复): where a unit asks for another unit's
resource whose rows may not leave (不予共享 in the catalog, or graded 重要数据 or 核心数据), the
providing unit's steward may answer by a privacy budget on the resource's sandbox declaration
instead of rows. Sharing checks and records the answer (``sharing.sandbox_answerable``,
``sharing.answer_in_sandbox``); the grant is the sandbox's own (``grant_budget``), so it spends
and is refused like any other, and no share grant — no row — is made. Nothing here commits."""

from __future__ import annotations

from sqlalchemy.orm import Session

from citybase.core.errors import InvalidInput
from citybase.core.identity.schemas import Principal
from citybase.core.settings import ProductsSettings
from citybase.data.sandbox import repository, service
from citybase.data.sandbox.schemas import GrantCreate, ShareAnswer, ShareAnswerRead
from citybase.data.sharing import service as sharing


def answer_share_request(
    session: Session, principal: Principal, settings: ProductsSettings, number: str,
    data: ShareAnswer,
) -> ShareAnswerRead:  # fmt: skip
    """Answer share request ``number`` by a sandbox grant to the requesting unit: its purpose
    and legal basis are the request's, ε per period and the last day the steward's. Only a
    steward of the providing unit, only a request whose rows are withheld, only a resource
    declared to the sandbox."""
    request = sharing.sandbox_answerable(session, principal, number)
    if repository.declaration(session, request.resource_code) is None:
        raise InvalidInput(
            f"{request.resource_code} is not declared to the sandbox: its steward declares it "
            "first (columns, keys, bounds), then answers the request",
            field="number", rule="sandbox.not_declared",
        )  # fmt: skip
    granted = service.grant_budget(session, principal, settings, GrantCreate(
        resource_code=request.resource_code, unit_code=request.consumer_unit_code,
        epsilon=data.epsilon, period=data.period, purpose=request.purpose[:500],
        legal_basis=request.legal_basis[:500], valid_until=data.valid_until,
    ))  # fmt: skip
    row = repository.grant(session, granted.id)
    assert row is not None
    row.share_request = number
    session.flush()
    answered = sharing.answer_in_sandbox(session, principal, number, granted.id, data.reason)
    return ShareAnswerRead(number=answered.number, status=answered.status.value,
                           grant=granted.model_copy(update={"share_request": number}))  # fmt: skip
