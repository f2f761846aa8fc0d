from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.errors import Forbidden, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.grading.schemas import Level
from citybase.data.masking import operators as ops
from citybase.data.masking import service
from citybase.data.masking.schemas import FieldKind, Operator, PolicyChange, RevealRequest, Rule
from tests.data.sharing.factories import citizen_id, shared_city

KEYS = ops.Keys.derive("44" * 32)


def test_a_plan_follows_the_scan_the_names_and_the_level(session: Session) -> None:
    city = shared_city(session, level=Level.general_3)
    plan = service.plan_for(session, city.resource.code)
    kinds = {f.item: f.kind.value for f in plan.fields}
    assert kinds == {
        "姓名": "name", "公民身份号码": "citizen_id", "手机号码": "mobile", "住址": "address",
        "出生日期": "birth_date", "性别": "other", "违法事由": "text", "罚款金额": "other",
    }  # fmt: skip
    assert plan.policy_level == "general_3"
    assert service.quasi_identifiers(plan) == ["住址", "出生日期", "性别"]


def test_the_bureau_changes_the_policy_on_the_record(session: Session) -> None:
    city = shared_city(session, level=Level.general_3)
    root = city.people["root"]
    change = PolicyChange(rule=Rule(op=Operator.suppress), reason="手机号一律屏蔽")
    row = service.set_rule(session, root, Level.general_3, FieldKind.mobile, change)
    assert (row.rule.op, row.default, row.updated_by) == (Operator.suppress, False, "root")
    masked = service.masker(session, city.resource.code, KEYS).row({"手机号码": "13800138000"})
    assert masked["手机号码"] is None
    entries, _ = ledger.find_entries(session, LedgerFilter(action="masking.policy"))
    assert entries[0].reason == "手机号一律屏蔽"
    back = PolicyChange(rule=service.DEFAULTS[Level.general_3][FieldKind.mobile], reason="恢复")
    assert service.set_rule(session, root, Level.general_3, FieldKind.mobile, back).default


def test_the_provider_previews_and_others_do_not(session: Session) -> None:
    city = shared_city(session, level=Level.general_4)
    preview = service.preview(session, city.people["urbansteward"], city.resource.code, KEYS)
    assert preview.total == 6
    assert preview.rows[0]["姓名"] == "张*"
    assert preview.k.quasi_identifiers == ["住址", "出生日期", "性别"]
    assert preview.k.k == 1  # each row is alone on address, birth year and sex
    with pytest.raises(Forbidden):
        service.preview(session, city.consumer, city.resource.code, KEYS)


def test_revealing_a_pseudonym_is_on_the_ledger(session: Session) -> None:
    city = shared_city(session)
    token = ops.pseudonym(citizen_id(1), KEYS)
    request = RevealRequest(pseudonym=token, reason="核实案件当事人", case_number="SR202611010002")
    assert service.reveal(session, city.people["root"], request, KEYS) == citizen_id(1)
    entries, _ = ledger.find_entries(session, LedgerFilter(action="masking.reveal"))
    assert entries[0].case_number == "SR202611010002"
    with pytest.raises(NotFound):
        service.reveal(
            session, city.people["root"], request.model_copy(update={"pseudonym": "P-AAAA"}), KEYS
        )


def test_k_anonymity_reports_the_smallest_group() -> None:
    rows = [{"sex": "男", "year": "1980"}] * 3 + [{"sex": "女", "year": "1980"}] * 2
    report = service.k_anonymity(rows, ["sex", "year"], threshold=3)
    assert (report.k, report.groups, report.below, report.rows) == (2, 2, 2, 5)
    assert service.k_anonymity([], ["sex"]).k == 0
