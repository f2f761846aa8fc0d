"""Reads of shared data: served masked under a grant, every read and refusal on the ledger."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.datastore import service as datastore
from citybase.data.datastore.models import DataRow, DataTable
from citybase.data.datastore.schemas import RowQuery
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.sharing import access, repository, service
from citybase.data.sharing.schemas import AccessFilter, Basis, ReadContext, Refusal, Revocation
from tests.core.identity.factories import make_user, principal_of
from tests.data.sharing.factories import ITEMS, citizen_id, grant_to, shared_city

KEYS = ops.Keys.derive("22" * 32)
CASE = ReadContext(case_number="SR202611010001", end_user="李医生", purpose="医保稽核")
ALL = ["姓名", "公民身份号码", "手机号码", "住址", "出生日期", "性别", "违法事由"]


def _read(session: Session, principal, code: str, ctx: ReadContext = CASE, **query):  # type: ignore[no-untyped-def]
    return access.read_rows(session, principal, code, ctx, RowQuery(**query), KEYS)


def test_granted_rows_are_served_masked_as_the_level_demands(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ALL)
    served = _read(session, city.consumer, city.resource.code, limit=2)
    assert isinstance(served, access.Served), served
    row = served.page.rows[0]
    assert set(row) == set(ALL)  # only the granted fields: no 罚款金额
    assert row["姓名"] == "张*"
    assert ops.reveal(row["公民身份号码"], KEYS) == citizen_id(0)  # 4 级: a reversible pseudonym
    assert row["手机号码"] == "138****0000"
    assert row["住址"] == "福州市鼓楼区"
    assert row["出生日期"] == "1960"
    assert row["违法事由"] == "当事人张*在鼓楼区***占道经营，电话138****0000"
    assert served.page.masked["公民身份号码"] == "pseudonym"
    assert served.page.total == 6


def test_a_higher_level_masks_harder(session: Session) -> None:
    city = shared_city(session, share_type="conditional", level=Level.important)
    grant_to(session, city, ["公民身份号码", "手机号码"])
    served = _read(session, city.consumer, city.resource.code, limit=1)
    assert isinstance(served, access.Served), served
    row = served.page.rows[0]
    assert row["公民身份号码"] == ops.keyed_hash(citizen_id(0), KEYS)  # one-way at 重要数据
    assert row["手机号码"] == "*******0000"


def test_each_read_is_on_the_ledger_and_in_the_access_log(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    number = grant_to(session, city, ALL)
    served = _read(session, city.consumer, city.resource.code, filters={"性别": "男"})
    assert isinstance(served, access.Served)
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sharing.read"))
    entry = entries[0]
    assert (entry.actor, entry.actor_unit, entry.case_number, entry.reason) == (
        "healthuser", "fz.health", "SR202611010001", "医保稽核",
    )  # fmt: skip
    assert entry.details["legal_basis"] == "《社会保险法》第八十七条"
    assert entry.details["end_user"] == "李医生"
    assert entry.details["rows"] == 3
    assert entry.details["query"] == {"filters": {"性别": "男"}, "limit": 100}
    assert entry.details["subjects"] == 3
    log = access.find_accesses(session, city.people["urbansteward"], AccessFilter(), KEYS)
    assert [(a.consumer_unit_code, a.rows, a.ledger_seq) for a in log.accesses] == [
        ("fz.health", 3, entry.seq)
    ]
    assert log.accesses[0].grant_id is not None
    assert repository.request_by_number(session, number) is not None


def test_whose_data_went_where(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ["姓名", "性别"])  # the ID is not granted, yet the rows went
    _read(session, city.consumer, city.resource.code, filters={"性别": "女"})  # rows 0, 2, 4
    _read(session, city.consumer, city.resource.code, filters={"性别": "男"})  # rows 1, 3, 5
    auditor = city.people["root"]
    mine = access.find_accesses(session, auditor, AccessFilter(subject=citizen_id(2)), KEYS)
    assert [a.query["filters"] for a in mine.accesses] == [{"性别": "女"}]
    lower = citizen_id(3).lower()  # looked up however it is typed
    assert access.find_accesses(session, auditor, AccessFilter(subject=lower), KEYS).total == 1
    with pytest.raises(Forbidden):  # only auditors look subjects up
        access.find_accesses(session, city.consumer, AccessFilter(subject=citizen_id(2)), KEYS)
    nobody = access.find_accesses(session, auditor, AccessFilter(subject=citizen_id(99)), KEYS)
    assert nobody.total == 0


def test_the_provider_sees_who_reads_and_others_do_not(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ALL)
    _read(session, city.consumer, city.resource.code)
    _read(session, city.stranger, city.resource.code)  # refused: gl.urban holds no grant
    summary = access.summary(session, city.people["urbansteward"], as_provider=True)
    assert sorted((s.unit_code, s.allowed, s.refused) for s in summary) == [
        ("fz.health", 1, 0), ("gl.urban", 0, 1),
    ]  # fmt: skip
    # the bureau's steward (a third unit) sees none of fz.urban's log
    other = access.find_accesses(session, city.people["bureausteward"], AccessFilter(), KEYS)
    assert other.total == 0


def _refused(result: object, refusal: Refusal) -> access.Refused:
    assert isinstance(result, access.Refused), result
    assert result.refusal is refusal, result.message
    return result


def test_reads_without_a_grant_are_refused_and_logged(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    result = _refused(_read(session, city.consumer, city.resource.code), Refusal.no_grant)
    assert "request it first" in result.message
    entries, _ = ledger.find_entries(session, LedgerFilter(action="sharing.read.refused"))
    assert entries[0].details["refusal"] == "no_grant"
    assert entries[0].case_number == "SR202611010001"


def test_reads_outside_the_granted_fields_are_refused(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ["姓名", "性别"])
    code = city.resource.code
    asked = _refused(
        _read(session, city.consumer, code, fields=["罚款金额"]), Refusal.field_not_granted
    )
    assert "罚款金额" in asked.message
    # nor may a filter, a sort or a text search probe a field one cannot see
    _refused(_read(session, city.consumer, code, filters={"公民身份号码": citizen_id(1)}),
             Refusal.field_not_granted)  # fmt: skip
    _refused(_read(session, city.consumer, code, sort="罚款金额"), Refusal.field_not_granted)
    probe = _read(session, city.consumer, code, q=citizen_id(1))
    assert isinstance(probe, access.Served)
    assert probe.page.total == 0


def test_expired_and_revoked_grants_are_refused(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ALL)
    grant = repository.grants(session, unit_code="fz.health")[0]
    grant.valid_until = datetime.now(UTC) - timedelta(days=1)
    session.flush()
    expired = _refused(_read(session, city.consumer, city.resource.code), Refusal.grant_expired)
    assert "expired" in expired.message
    grant.valid_until = datetime.now(UTC) + timedelta(days=1)
    service.revoke(session, city.people["urbansteward"], grant.id, Revocation(reason="任务完成"))
    revoked = _refused(_read(session, city.consumer, city.resource.code), Refusal.grant_revoked)
    assert "任务完成" in revoked.message


def test_personal_data_needs_a_case_and_a_well_formed_one(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ALL)
    code = city.resource.code
    _refused(_read(session, city.consumer, code, ReadContext()), Refusal.case_number_required)
    for forged in ("123", "SR20261301000A", "SR209912310001", "榕政办〔2999〕1号", "1 OR 1=1"):
        _refused(_read(session, city.consumer, code, ReadContext(case_number=forged)),
                 Refusal.case_number_invalid)  # fmt: skip
    ok = _read(session, city.consumer, code, ReadContext(case_number="榕政办〔2026〕12号"))
    assert isinstance(ok, access.Served)


def test_case_number_formats() -> None:
    today = date(2026, 11, 22)
    assert access.case_number_problem("SR202611220001", today) is None
    assert access.case_number_problem("GD2026112200000123", today) is None
    assert "after today" in (access.case_number_problem("SR202611230001", today) or "")
    assert "not a date" in (access.case_number_problem("SR202602300001", today) or "")
    assert access.case_number_problem("闽卫医〔2025〕第7号", today) is None
    assert "not a case number" in (access.case_number_problem("<script>", today) or "")


def test_general_data_is_read_without_a_case(session: Session) -> None:
    city = shared_city(session, level=Level.general_2)
    grant_to(session, city, ["性别", "罚款金额"])
    served = _read(session, city.consumer, city.resource.code, ReadContext())
    assert isinstance(served, access.Served), served


def test_the_provider_reads_its_own_data_elsewhere(session: Session) -> None:
    city = shared_city(session)
    result = _refused(_read(session, city.people["urbansteward"], city.resource.code),
                      Refusal.own_data)  # fmt: skip
    assert "/api/v1/catalog/resources/" in result.message


def test_recent_subjects_are_filed_and_still_found(session: Session) -> None:
    """A read writes its subjects apart; the worker's filing moves them into the index in
    subject order, and a look-up by subject finds the read before and after."""
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ["姓名", "性别"])
    first = _read(session, city.consumer, city.resource.code, filters={"性别": "女"})
    _read(session, city.consumer, city.resource.code, filters={"性别": "男"})
    auditor = city.people["root"]
    flt = AccessFilter(subject=citizen_id(2))
    before = access.find_accesses(session, auditor, flt, KEYS)
    assert [a.id for a in before.accesses] == [first.page.access_id]
    assert repository.recent_subjects(session) == 6
    assert service.file_subjects(session, reads=1) == 3  # the oldest read's three
    assert repository.recent_subjects(session) == 3
    assert [a.id for a in access.find_accesses(session, auditor, flt, KEYS).accesses] == [
        first.page.access_id
    ]
    assert service.file_subjects(session) == 3
    assert service.file_subjects(session) == 0
    after = access.find_accesses(session, auditor, AccessFilter(subject=citizen_id(3)), KEYS)
    assert after.total == 1


def test_free_text_found_when_stored_is_served_as_if_scanned_now(session: Session) -> None:
    """The spans stored with the rows mask exactly what scanning at read time masks; rows
    stored by older recognizers are scanned as they are served, until rescanned."""
    city = shared_city(session, level=Level.general_4)
    grant_to(session, city, ["姓名", "违法事由", "住址"])
    table = datastore.table_of(session, city.resource.code)
    assert table is not None
    assert table.scanned == ["违法事由"]  # long, and not a name or an address by its name
    stored = _read(session, city.consumer, city.resource.code, limit=6)
    assert isinstance(stored, access.Served)
    text = stored.page.rows[0]["违法事由"]
    assert "138****0000" in text
    assert "张*" in text
    assert citizen_id(0) not in str(stored.page.rows)
    row = session.scalars(select(DataRow).order_by(DataRow.id)).first()
    assert row is not None
    assert row.found is not None
    assert row.found["违法事由"][0][0] == "name"
    session.execute(update(DataTable).values(scan_version=0))  # as if found by older recognizers
    scanned = _read(session, city.consumer, city.resource.code, limit=6)
    assert isinstance(scanned, access.Served)
    assert scanned.page.rows == stored.page.rows
    assert datastore.stale_scans(session) == [city.resource.code]
    assert datastore.rescan(session, city.resource.code) == 6
    assert datastore.stale_scans(session) == []


# --- the same read under a basis other than a grant ---------------------------------------------

CONTRACT = Basis(
    kind="contract", ref="HT2026000001", legal_basis="《数据产品授权运营合同》HT2026000001",
    fields=("姓名", "公民身份号码", "性别", "出生日期"), purpose="医保精算模型训练",
    consumer="op.actuary",
)  # fmt: skip
NO_CASE = ReadContext()  # a contract's delivery names no case: the contract is its record


def _under(session: Session, principal, code: str, basis: Basis = CONTRACT, **query):  # type: ignore[no-untyped-def]
    return service.read_rows_under(
        session, principal, code, NO_CASE, RowQuery(**query), KEYS, basis
    )


def test_rows_under_a_contract_are_masked_and_traced_like_a_granted_read(
    session: Session,
) -> None:
    city = shared_city(session, level=Level.general_4)
    operator = make_user(session, "actuary")  # no role, no unit: the contract is the authority
    principal = principal_of(session, operator.username)
    served = _under(session, principal, city.resource.code, filters={"性别": "男"})
    assert isinstance(served, access.Served), served
    page = served.page
    assert (page.basis_kind, page.basis_ref, page.grant_id) == ("contract", "HT2026000001", None)
    assert set(page.rows[0]) == set(CONTRACT.fields)
    assert page.rows[0]["姓名"] == "王*"  # masked by the resource's grade, as under a grant
    assert ops.reveal(page.rows[0]["公民身份号码"], KEYS) == citizen_id(1)
    entries, _ = ledger.find_entries(session, LedgerFilter(action="products.delivery"))
    entry = entries[0]
    assert entry.details["basis"] == {"kind": "contract", "ref": "HT2026000001"}
    assert entry.details["legal_basis"] == CONTRACT.legal_basis
    assert (entry.details["consumer"], entry.details["grant"], entry.reason) == (
        "op.actuary", None, "医保精算模型训练",
    )  # fmt: skip
    log = access.find_accesses(session, city.people["root"], AccessFilter(), KEYS)
    row = log.accesses[0]
    assert (row.outcome.value, row.consumer_unit_code, row.grant_id, row.rows) == (
        "allowed", "op.actuary", None, 3,
    )  # fmt: skip
    assert row.query["basis"] == {"kind": "contract", "ref": "HT2026000001"}
    assert (row.legal_basis, row.ledger_seq) == (CONTRACT.legal_basis, entry.seq)
    # whose data went where: the data subjects are indexed as for any read
    found = access.find_accesses(session, city.people["root"],
                                 AccessFilter(subject=citizen_id(1)), KEYS)  # fmt: skip
    assert [a.id for a in found.accesses] == [row.id]


def test_a_basis_naming_no_fields_covers_every_data_item_of_the_resource(
    session: Session,
) -> None:
    city = shared_city(session, level=Level.general_4)
    principal = principal_of(session, make_user(session, "customer").username)
    served = _under(session, principal, city.resource.code, replace(CONTRACT, fields=()))
    assert isinstance(served, access.Served), served
    assert set(served.page.rows[0]) == {i["name"] for i in ITEMS}
    assert served.page.rows[0]["姓名"].endswith("*")  # still masked by the resource's grade


def test_fields_outside_the_basis_are_refused_logged_and_nothing_served(
    session: Session,
) -> None:
    city = shared_city(session, level=Level.general_4)
    code = city.resource.code
    refused = _refused(_under(session, city.stranger, code, fields=["手机号码"]),
                       Refusal.field_not_granted)  # fmt: skip
    assert "contract HT2026000001 covers" in refused.message
    _refused(_under(session, city.stranger, code, filters={"住址": "福州市"}),
             Refusal.field_not_granted)  # fmt: skip
    entries, _ = ledger.find_entries(session, LedgerFilter(action="products.delivery.refused"))
    assert [e.details["refusal"] for e in entries] == ["field_not_granted"] * 2
    assert entries[0].details["basis"] == {"kind": "contract", "ref": "HT2026000001"}
    assert entries[0].details["legal_basis"] == CONTRACT.legal_basis
    log = access.find_accesses(session, city.people["root"], AccessFilter(), KEYS)
    assert [(a.outcome.value, a.rows, a.subjects) for a in log.accesses] == [
        ("refused", 0, 0), ("refused", 0, 0),
    ]  # fmt: skip
    assert log.accesses[-1].id == refused.access_id  # newest first


def test_a_basis_may_mask_harder_than_the_grade_never_softer(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    harder = replace(CONTRACT, mask_level=Level.important)
    served = _under(session, city.stranger, city.resource.code, harder, limit=1)
    assert isinstance(served, access.Served), served
    assert served.page.rows[0]["公民身份号码"] == ops.keyed_hash(citizen_id(0), KEYS)
    softer = replace(CONTRACT, mask_level=Level.general_1)
    served = _under(session, city.stranger, city.resource.code, softer, limit=1)
    assert isinstance(served, access.Served), served
    assert ops.reveal(served.page.rows[0]["公民身份号码"], KEYS) == citizen_id(0)  # still 4 级
    assert served.page.rows[0]["姓名"] == "张*"


def test_personal_data_under_a_basis_needs_its_purpose(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    silent = replace(CONTRACT, purpose="")
    _refused(_under(session, city.stranger, city.resource.code, silent), Refusal.purpose_required)
    mine = replace(CONTRACT, consumer="fz.urban")  # the provider's own data is read elsewhere
    own = _refused(_under(session, city.stranger, city.resource.code, mine), Refusal.own_data)
    log = access.find_accesses(session, city.people["root"], AccessFilter(), KEYS)
    row = next(a for a in log.accesses if a.id == own.access_id)  # refused before any field
    assert (row.legal_basis, row.query["basis"]["ref"]) == (CONTRACT.legal_basis, "HT2026000001")
