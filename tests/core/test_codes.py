from __future__ import annotations

from citybase.core.codes import citizen_id_check_char, is_citizen_id, is_credit_code


def test_credit_code_check_character() -> None:
    assert is_credit_code("91350100M000100Y43")
    assert not is_credit_code("91350100M000100Y44")
    assert not is_credit_code("91350100M000100Y4")  # too short
    assert not is_credit_code("91350100M000100I43")  # I is not in the character set


def test_citizen_id_check_character() -> None:
    # the worked example of GB 11643-1999
    assert citizen_id_check_char("11010519491231002") == "X"
    assert is_citizen_id("11010519491231002X")
    assert is_citizen_id("11010519491231002x")
    assert not is_citizen_id("110105194912310021")
