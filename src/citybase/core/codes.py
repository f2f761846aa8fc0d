"""Check characters of Chinese national identifiers, shared by every layer.

- GB 32100-2015: the 18-character unified social credit code (统一社会信用代码).
- GB 11643-1999: the 18-digit citizen identity number (公民身份号码), ISO 7064 MOD 11-2.
"""

from __future__ import annotations

CREDIT_CODE_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def credit_code_check_char(first17: str) -> str:
    total = sum(
        CREDIT_CODE_CHARS.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARS[(31 - total % 31) % 31]


def is_credit_code(value: str) -> bool:
    if len(value) != 18 or any(c not in CREDIT_CODE_CHARS for c in value):
        return False
    return credit_code_check_char(value[:17]) == value[17]


def citizen_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def is_citizen_id(value: str) -> bool:
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    return citizen_id_check_char(value[:17]) == value[17]
