from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.core.errors import Conflict, InvalidInput, NotFound
from citybase.core.ledger import service as ledger
from citybase.core.ledger.schemas import LedgerFilter
from citybase.data.grading import service
from citybase.data.grading.schemas import Decision, Level, ScanRequest
from tests.data.catalog.factories import catalog_people, make_resource


def citizen_id(first17: str = "35010219900307123") -> str:
    return first17 + citizen_id_check_char(first17)


def bank_card(prefix: str = "622202123456789012") -> str:
    return next(prefix + d for d in "0123456789" if service.luhn_ok(prefix + d))


CREDIT = "91350100M000100Y4" + credit_code_check_char("91350100M000100Y4")


def test_numbers_are_found_next_to_chinese_characters() -> None:
    text = f"身份证{citizen_id()}，卡号{bank_card()}联系电话13812345678。代码{CREDIT}公司"
    assert service.find_numbers(text) == [
        ("citizen_id", citizen_id()),
        ("credit_code", CREDIT),
        ("bank_card", bank_card()),
        ("mobile", "13812345678"),
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("订单号913501001234567890123", "citizen_id"),  # digits run on: no number inside another
        ("订单号913501001234567890123", "mobile"),
        ("身份证35010219900307123X", "citizen_id"),  # a wrong check character
        ("卡号6222021234567890123", "bank_card"),  # fails the Luhn check
        ("电话138123456789", "mobile"),  # 12 digits: not a mobile number
        ("编号350102199013071234", "citizen_id"),  # month 13: not a birth date
        ("代码91350100M000100Y44", "credit_code"),  # a wrong check character
    ],
)
def test_lookalikes_are_not_found(text: str, kind: str) -> None:
    assert kind not in {k for k, _ in service.find_numbers(text)}


def test_a_citizen_id_that_passes_luhn_is_still_a_citizen_id() -> None:
    for n in range(1000, 2000):
        candidate = citizen_id(f"35010219900307{n % 1000:03d}")
        if service.luhn_ok(candidate) and candidate[-1] != "X":
            assert service.find_numbers(candidate) == [("citizen_id", candidate)]
            return
    pytest.fail("no Luhn-valid citizen ID found to test with")


def test_names_and_addresses() -> None:
    assert service.is_person_name("王小明")
    assert service.is_person_name("欧阳娜娜")
    assert not service.is_person_name("福州市")
    assert service.address_divisions("福建省福州市鼓楼区五四路158号") == [
        "福建省",
        "福州市",
        "鼓楼区",
    ]
    assert service.address_divisions("鼓楼区") == []  # a division alone is not an address


def test_masking_keeps_little() -> None:
    assert service.mask("13812345678") == "13*******78"


def test_population_data_with_ids_is_important(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(
        session, people["root"], provider_unit_code="fz.urban", base_tags=["population"],
        items=[{"name": "证件号", "data_type": "string"}, {"name": "姓名", "data_type": "string"},
               {"name": "备注", "data_type": "string"}],
    )  # fmt: skip
    rows = [
        {"证件号": citizen_id(), "姓名": "王小明", "备注": f"卡号{bank_card()}"},
        {"证件号": citizen_id("35010219851120456"), "姓名": "林静", "备注": ""},
    ]
    g = service.scan_resource(session, people["urbansteward"], r.code, ScanRequest(rows=rows))
    assert g.proposed_level is Level.important
    kinds = {(f.item, f.kind) for f in g.findings}
    assert kinds == {("证件号", "citizen_id"), ("姓名", "name"), ("备注", "bank_card")}
    assert any("公民身份号码：证件号" in reason for reason in g.reasons)
    by_kind = {f.kind: f for f in g.findings}
    assert by_kind["citizen_id"].matches == 2
    assert "*" in by_kind["citizen_id"].examples[0]
    assert citizen_id() not in str(g.findings)


@pytest.mark.parametrize(
    ("items", "rows", "level"),
    [
        ([("联系电话", "")], [{"联系电话": "13812345678"}], Level.general_3),
        ([("代码", "统一社会信用代码")], [], Level.general_2),
        ([("站点名称", "")], [{"站点名称": "五一广场"}], Level.general_1),
        ([("身份证", "公民身份号码")], [], Level.general_4),
        # a directory of institutions: their addresses identify no one
        (
            [("医院名称", ""), ("地址", ""), ("信用代码", "统一社会信用代码")],
            [{"医院名称": "福州市第一医院", "地址": "福州市台江区达道路190号"}],
            Level.general_2,
        ),
        (
            [("单位名称", ""), ("地址", "")],
            [{"单位名称": "鼓楼区图书馆", "地址": "福州市鼓楼区东街123号"}],
            Level.general_1,
        ),
        # a person's address: by the item's name, or beside a name or a mobile
        ([("户籍地址", "")], [{"户籍地址": "福州市鼓楼区东街123号"}], Level.general_3),
        (
            [("姓名", ""), ("地址", "")],
            [{"姓名": "林小明", "地址": "福州市鼓楼区东街123号"}],
            Level.general_3,
        ),
    ],
)
def test_proposals(
    session: Session, items: list[tuple[str, str]], rows: list[dict[str, str]], level: Level
) -> None:
    people = catalog_people(session)
    r = make_resource(
        session, people["root"], base_tags=[],
        items=[{"name": n, "data_type": "string", "element": e} for n, e in items],
    )  # fmt: skip
    g = service.scan_resource(session, people["urbansteward"], r.code, ScanRequest(rows=rows))
    assert g.proposed_level is level


def test_levels_constrain_share_and_open_types(session: Session) -> None:
    people = catalog_people(session)
    steward = people["urbansteward"]
    r = make_resource(
        session, people["root"], open_type="unconditional", base_tags=[],
        items=[{"name": "身份证", "data_type": "string", "element": "公民身份号码"}],
    )  # fmt: skip
    g = service.scan_resource(session, steward, r.code, ScanRequest())
    assert [v.field for v in g.violations] == ["open_type"]
    with pytest.raises(Conflict) as refused:
        service.decide(session, steward, r.code, Decision(level=Level.general_4))
    assert refused.value.field == "open_type"
    with pytest.raises(Conflict) as core:
        service.decide(
            session, steward, r.code, Decision(level=Level.core, reason="市级核心数据目录")
        )
    assert core.value.field == "share_type"


def test_confirm_and_override_are_on_the_ledger(session: Session) -> None:
    people = catalog_people(session)
    steward = people["urbansteward"]
    r = make_resource(session, people["root"], base_tags=[])
    service.scan_resource(session, steward, r.code, ScanRequest())
    assert [q.resource_code for q in service.queue(session, steward)] == [r.code]
    with pytest.raises(InvalidInput) as no_reason:
        service.decide(session, steward, r.code, Decision(level=Level.general_2))
    assert no_reason.value.field == "reason"
    g = service.decide(
        session, steward, r.code, Decision(level=Level.general_2, reason="含权属单位名称")
    )
    assert g.level is Level.general_2
    assert service.queue(session, steward) == []
    entries, _ = ledger.find_entries(session, LedgerFilter(action="grading.", object_id=r.code))
    assert [e.action for e in entries] == ["grading.override", "grading.scan"]
    assert entries[0].reason == "含权属单位名称"


def test_sample_columns_must_be_data_items(session: Session) -> None:
    people = catalog_people(session)
    r = make_resource(session, people["root"])
    with pytest.raises(InvalidInput) as caught:
        service.scan_resource(
            session, people["urbansteward"], r.code, ScanRequest(rows=[{"外来列": "x"}])
        )
    assert caught.value.field == "rows"
    with pytest.raises(NotFound):
        service.decide(
            session, people["urbansteward"], "301001-999999", Decision(level=Level.general_1)
        )
