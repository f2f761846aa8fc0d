from __future__ import annotations

import pytest

from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.data.baselib import comparisons as c

REGIONS = c.RegionIndex(
    [
        c.Region("350000", "福建省", "province"),
        c.Region("350100", "福州市", "city", "350000"),
        c.Region("350102", "鼓楼区", "district", "350100"),
        c.Region("350103", "台江区", "district", "350100"),
        c.Region("350102001", "鼓东街道", "street", "350102"),
        c.Region("350102002", "鼓西街道", "street", "350102"),
        c.Region("350103001", "瀛洲街道", "street", "350103"),
        c.Region("350102001002", "钱塘社区", "community", "350102001"),
    ]
)


def _id(first17: str) -> str:
    return first17 + citizen_id_check_char(first17)


# --- citizen IDs --------------------------------------------------------------------------------


def test_a_15_digit_id_is_upgraded_with_century_and_check_character() -> None:
    new = c.upgrade_citizen_id("350102800101123")
    assert new[:17] == "35010219800101123"
    assert c.citizen_id_valid(new)
    assert c.citizen_id("350102800101123") == new
    assert c.relate_citizen_ids("350102800101123", new) is c.IdRelation.exact


def test_full_width_and_lower_x_fold_to_the_same_id() -> None:
    raw = "11010519491231002X"
    assert c.citizen_id("１１０１０５１９４９１２３１００２ｘ") == raw
    assert c.citizen_id_valid(raw)
    assert not c.citizen_id_valid("110105194912310021")


def test_transposed_digits_are_told_from_other_differences() -> None:
    right = _id("35010219850317123")
    swapped = right[:8] + right[9] + right[8] + right[10:]  # 8 5 → 5 8 in the year
    assert swapped != right
    assert c.relate_citizen_ids(right, swapped) is c.IdRelation.transposed
    # a swap whose check character was recomputed is still a swap
    recomputed = _id(swapped[:17])
    assert c.relate_citizen_ids(right, recomputed) is c.IdRelation.transposed
    one_off = right[:10] + ("1" if right[10] != "1" else "2") + right[11:]
    assert c.relate_citizen_ids(right, one_off) is c.IdRelation.one_off
    assert c.relate_citizen_ids(right, _id("35010319700101555")) is c.IdRelation.different
    assert c.relate_citizen_ids(right, "") is c.IdRelation.missing
    assert c.relate_citizen_ids(right, "not an id") is c.IdRelation.missing


def test_is_transposition_needs_exactly_one_adjacent_swap() -> None:
    assert c.is_transposition("12345", "12435")
    assert not c.is_transposition("12345", "12345")
    assert not c.is_transposition("12345", "14325")  # not adjacent
    assert not c.is_transposition("12345", "1245")


def test_birth_date_and_sex_are_read_from_the_id() -> None:
    value = _id("35010219850317123")
    assert c.birth_date_of(value) == "1985-03-17"
    assert c.sex_of(value) == "男"  # the 17th digit, 3, is odd
    assert c.sex_of(_id("35010219850317124")) == "女"


# --- credit codes --------------------------------------------------------------------------------


def _credit(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


def test_credit_codes_are_checked_and_keep_their_organisation_code() -> None:
    code = _credit("91350100MA2XYW123")
    assert c.credit_code_valid(code)
    assert c.organisation_code(code) == "MA2XYW123"
    assert c.credit_code(code.lower()) == code
    reissued = _credit("92350102MA2XYW123")  # another registration authority, same organisation
    assert c.relate_credit_codes(code, reissued) is c.CreditRelation.same_organisation
    typo = code[:10] + ("0" if code[10] != "0" else "1") + code[11:]  # inside the organisation code
    assert c.relate_credit_codes(code, typo) is c.CreditRelation.one_off
    assert c.relate_credit_codes(code, code) is c.CreditRelation.exact
    assert (
        c.relate_credit_codes(code, "91350100MA2XYW12I") is c.CreditRelation.missing
    )  # I is no credit char
    assert not c.credit_code_valid(typo)


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "relation"),
    [
        ("张伟", "张伟", c.NameRelation.exact),
        ("张伟", "张 伟", c.NameRelation.exact),
        ("阿依古丽·买买提", "阿依古丽买买提", c.NameRelation.exact),
        ("张伟", "张玮", c.NameRelation.same_sound),  # 同音字
        ("林静", "林靖", c.NameRelation.same_sound),
        ("王丽", "玉丽", c.NameRelation.same_shape),  # 形近字
        ("陈己明", "陈已明", c.NameRelation.same_shape),
        ("张伟", "张杰", c.NameRelation.one_char),  # siblings differ by one character
        ("张伟", "张晓东", c.NameRelation.same_surname),
        ("欧阳明", "欧阳华丽", c.NameRelation.same_surname),
        ("张伟", "李娜", c.NameRelation.different),
        ("张伟", "", c.NameRelation.missing),
    ],
)
def test_names_are_related_by_characters_sound_and_shape(
    a: str, b: str, relation: c.NameRelation
) -> None:
    assert c.relate_names(a, b) is relation


def test_pinyin_drops_tones_and_reads_common_surnames() -> None:
    assert c.name_pinyin("张伟") == "zhang wei"
    assert c.name_pinyin("张伟") == c.name_pinyin("章玮")


def test_no_character_is_in_two_shape_groups() -> None:
    seen: set[str] = set()
    for group in c.SHAPE_GROUPS:
        for ch in group:
            assert ch not in seen, ch
            seen.add(ch)


# --- addresses -------------------------------------------------------------------------------------


def test_addresses_read_against_the_register_agree_at_their_level() -> None:
    a = c.parse_address("福建省福州市鼓楼区鼓东街道五四路12号", REGIONS)
    assert (a.district, a.street, a.road, a.number) == ("350102", "350102001", "五四路", "12")
    b = c.parse_address("鼓楼鼓东五四路12号", REGIONS)  # short forms, no city
    assert b.key() == a.key()
    assert c.relate_addresses(a, b) is c.AddressRelation.exact
    room = c.parse_address("福州市鼓楼区五四路12号3座501室", REGIONS)
    assert room.street == ""  # the street was not written
    assert c.relate_addresses(a, room) is c.AddressRelation.same_number
    other = c.parse_address("鼓楼区鼓东街道五四路88号", REGIONS)
    assert c.relate_addresses(a, other) is c.AddressRelation.same_road
    west = c.parse_address("鼓楼区鼓西街道杨桥中路1号", REGIONS)
    assert c.relate_addresses(a, west) is c.AddressRelation.same_district
    elsewhere = c.parse_address("台江区瀛洲街道工业路3号", REGIONS)
    assert c.relate_addresses(a, elsewhere) is c.AddressRelation.different
    assert c.relate_addresses(a, c.parse_address("", REGIONS)) is c.AddressRelation.missing


def test_a_community_fills_in_its_street_and_district() -> None:
    a = c.parse_address("钱塘社区华林路5号", REGIONS)
    assert (a.district, a.street, a.community) == ("350102", "350102001", "350102001002")


# --- enterprise names -------------------------------------------------------------------------------

NAMES = ["福建省", "福州市", "鼓楼区", "台江区"]


@pytest.mark.parametrize(
    ("name", "core"),
    [
        ("福州闽江科技有限公司", "闽江科技"),
        ("福建省福州市闽江科技有限公司", "闽江科技"),
        ("闽江科技(福州)有限责任公司", "闽江科技"),
        ("福州闽江科技股份有限公司", "闽江科技"),
        ("福州闽江科技有限公司鼓楼分公司", "闽江科技"),
        ("鼓楼区榕城餐饮店", "榕城餐饮"),
    ],
)
def test_enterprise_names_lose_region_prefix_and_org_suffix(name: str, core: str) -> None:
    assert c.enterprise_core(name, NAMES) == core


def test_enterprise_names_relate_by_their_core() -> None:
    assert c.relate_enterprise_names("福州闽江科技有限公司", "闽江科技(福州)有限公司", NAMES) is (
        c.EnterpriseNameRelation.same_core
    )
    assert c.relate_enterprise_names("福州闽江科技有限公司", "福州闽江料技有限公司", NAMES) is (
        c.EnterpriseNameRelation.similar_core
    )
    assert c.relate_enterprise_names("福州闽江科技有限公司", "福州榕城贸易有限公司", NAMES) is (
        c.EnterpriseNameRelation.different
    )


# --- phones and dates -------------------------------------------------------------------------------


def test_mobiles_and_dates_are_normalised() -> None:
    assert c.mobile("+86 138-0000-1234") == "13800001234"
    assert c.mobile("0591-87654321") == ""
    assert c.iso_date("1985年3月7日") == "1985-03-07"
    assert c.iso_date("19850307") == "1985-03-07"
    assert c.iso_date("1985/13/07") == ""
    assert c.sex("1") == "男"
