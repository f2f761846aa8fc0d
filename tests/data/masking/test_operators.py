from __future__ import annotations

from datetime import date

import pytest

from citybase.data.masking import operators as ops

KEYS = ops.Keys.derive("00" * 32)
OTHER = ops.Keys.derive("11" * 32)
CITIZEN = "11010519491231002X"  # the check character of GB 11643's own example


def test_keep_first_and_last() -> None:
    assert ops.keep("13800138000", 3, 4) == "138****8000"
    assert ops.keep("张三丰", 1) == "张**"
    assert ops.keep(CITIZEN, 6, 4) == "110105********002X"
    assert ops.keep("ab", 3, 4) == "a*"  # never shows a short value whole


def test_keyed_hash_is_stable_per_key_and_one_way() -> None:
    assert ops.keyed_hash(CITIZEN, KEYS) == ops.keyed_hash(CITIZEN, KEYS)
    assert ops.keyed_hash(CITIZEN, KEYS) != ops.keyed_hash(CITIZEN, OTHER)
    assert CITIZEN not in ops.keyed_hash(CITIZEN, KEYS)


def test_pseudonyms_are_deterministic_and_reversible_only_with_the_key() -> None:
    token = ops.pseudonym(CITIZEN, KEYS)
    assert token.startswith(ops.PSEUDONYM_PREFIX)
    assert token == ops.pseudonym(CITIZEN, KEYS)  # joins across reads still work
    assert CITIZEN not in token
    assert ops.reveal(token, KEYS) == CITIZEN
    with pytest.raises(ValueError, match="this key"):
        ops.reveal(token, OTHER)
    with pytest.raises(ValueError, match="this key"):
        ops.reveal(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), KEYS)  # tampered


def test_generalizations() -> None:
    assert ops.year_of(date(1985, 6, 1)) == "1985"
    assert ops.year_of("1985-06-01") == "1985"
    assert ops.year_of(CITIZEN) == "1949"
    assert ops.district_of("福建省福州市鼓楼区五四路128号3栋") == "福建省福州市鼓楼区"
    assert ops.district_of("鼓楼区东街口") == "鼓楼区"
    assert ops.age_band(37) == "30-39"
    assert ops.age_band("8") == "0-9"
    assert ops.age_band("unknown") is None


def test_free_text_is_redacted_in_place() -> None:
    text = f"市民张三反映：福州市鼓楼区五四路128号噪音扰民，电话13800138000，身份证{CITIZEN}。"
    out = ops.redact_text(text)
    assert out == (
        "市民张*反映：福州市鼓楼区***噪音扰民，电话138****8000，身份证110105********002X。"
    )
    assert ops.redact_text("鼓楼区城管局已派员处理") == "鼓楼区城管局已派员处理"


def test_subject_tags_in_bulk_are_the_tags_one_by_one() -> None:
    keys = ops.Keys.derive("33" * 32)
    values = [CITIZEN, "91350100M000100Y43"]
    assert ops.subject_tags(values, keys) == [ops.subject_tag(v, keys) for v in values]
    assert (
        ops.subject_tag(" " + CITIZEN.lower() + " ", keys) == ops.subject_tags([CITIZEN], keys)[0]
    )
