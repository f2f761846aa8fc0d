"""The masking operators (脱敏算子). Each takes one value and returns what may be shown instead.

Keyed operators take a :class:`Keys` derived from the platform's masking key: a keyed hash
(HMAC-SHA-256, one-way) and a keyed pseudonym (AES-SIV, deterministic, so that the same value
always gives the same pseudonym and joins still work, and reversible only with the key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from citybase.data.grading import service as grading

PSEUDONYM_PREFIX = "P-"


@dataclass(frozen=True)
class Keys:
    """Sub-keys derived from one master key, one per use, so that no two uses share a key."""

    hash_key: bytes
    pseudonym_key: bytes
    subject_key: bytes

    @classmethod
    def derive(cls, master_hex: str) -> Keys:
        master = bytes.fromhex(master_hex)

        def sub(info: bytes, length: int) -> bytes:
            return HKDF(SHA256(), length, salt=None, info=info).derive(master)

        return cls(
            hash_key=sub(b"citybase masking hash", 32),
            pseudonym_key=sub(b"citybase masking pseudonym", 64),
            subject_key=sub(b"citybase access subject", 32),
        )


@lru_cache(maxsize=4)
def keys_for(master_hex: str) -> Keys:
    """The sub-keys of a master key (derived once per process)."""
    return Keys.derive(master_hex)


def keep(value: Any, first: int = 0, last: int = 0, fill: str = "*") -> str:
    """Keep the first and last characters, mask the rest (张** / 138****8000)."""
    text = str(value)
    if first + last >= len(text):
        first, last = min(first, max(len(text) - 1, 0)), 0
    tail = text[len(text) - last :] if last else ""
    return text[:first] + fill * (len(text) - first - last) + tail


def keyed_hash(value: Any, keys: Keys, length: int = 16) -> str:
    digest = hmac.new(keys.hash_key, str(value).encode(), hashlib.sha256).hexdigest()
    return digest[:length]


@lru_cache(maxsize=4)
def _siv(key: bytes) -> AESSIV:
    return AESSIV(key)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def pseudonym(value: Any, keys: Keys) -> str:
    sealed = _siv(keys.pseudonym_key).encrypt(str(value).encode(), None)
    # URL-safe base64 without padding (binascii directly: half the cost of base64's wrapper)
    text = binascii.b2a_base64(sealed, newline=False).translate(_URLSAFE).rstrip(b"=")
    return PSEUDONYM_PREFIX + text.decode()


def reveal(token: str, keys: Keys) -> str:
    """The value behind a pseudonym; raises ``ValueError`` when it is not one of this key's."""
    if not token.startswith(PSEUDONYM_PREFIX):
        raise ValueError("not a pseudonym")
    body = token[len(PSEUDONYM_PREFIX) :]
    try:
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return _siv(keys.pseudonym_key).decrypt(sealed, None).decode()
    except Exception as exc:  # binascii.Error, InvalidTag, UnicodeDecodeError
        raise ValueError("not a pseudonym made with this key") from exc


SUBJECT_TAG_LENGTH = 20  # hex digits: 80 bits, so that two people's tags do not meet


def subject_tag(value: str, keys: Keys) -> str:
    """What an access log keeps of a data subject's identifier: a keyed hash, never the value."""
    return subject_tags([value.strip().upper()], keys)[0]


def subject_tags(values: Iterable[str], keys: Keys) -> list[str]:
    """``subject_tag`` of many identifiers at once (already stripped and upper-cased)."""
    key, digest = keys.subject_key, hmac.digest
    return [digest(key, v.encode(), "sha256").hex()[:SUBJECT_TAG_LENGTH] for v in values]


_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)")


def year_of(value: Any) -> str | None:
    """A date, datetime or citizen ID → its year (出生日期 → 出生年份)."""
    if isinstance(value, date | datetime):
        return str(value.year)
    text = str(value)
    if len(text) == 18 and text[:17].isdigit():
        return text[6:10]
    match = _YEAR.search(text)
    return match.group() if match else None


def district_of(value: Any) -> str | None:
    """An address → the administrative divisions it names, up to the district (福州市鼓楼区)."""
    text = str(value)
    if match := _UP_TO_DISTRICT.match(text):  # the usual shape, in one step
        return match.group()
    divisions = grading.DIVISION.findall(text)
    kept: list[str] = []
    for division in divisions:
        kept.append(division)
        if division.endswith(("区", "县", "旗")) or len(kept) == 3:
            break
    return "".join(kept) or None


_UP_TO_DISTRICT = re.compile(
    r"(?:[\u4e00-\u9fa5]{2,3}省)?(?:[\u4e00-\u9fa5]{2,4}?市)?[\u4e00-\u9fa5]{1,4}?(?:区|县|旗)(?=[\u4e00-\u9fa5\d])"
)


def age_band(value: Any, width: int = 10) -> str | None:
    try:
        age = int(float(value))
    except (TypeError, ValueError):
        return None
    if age < 0:
        return None
    low = age // width * width
    return f"{low}-{low + width - 1}"


def redact_text(text: str, keys: Keys | None = None) -> str:
    """Free text with the personal data found in it masked in place: identifiers keep their
    ends, names their surname, addresses their district."""
    return redact_spans(text, [(s.kind, s.start, s.end) for s in grading.find_spans(text)])


def redact_spans(text: str, spans: Iterable[Sequence[Any]]) -> str:
    """Free text masked where ``spans`` (kind, start, end — found before, in order) say."""
    out: list[str] = []
    at = 0
    for kind, start, end in spans:
        out.append(text[at:start])
        out.append(_redact_span(kind, text[start:end]))
        at = end
    if not out:
        return text
    out.append(text[at:])
    return "".join(out)


def _redact_span(kind: str, value: str) -> str:
    if kind == "citizen_id":
        return keep(value, 6, 4)
    if kind == "bank_card":
        return keep(value, 0, 4)
    if kind == "mobile":
        return keep(value, 3, 4)
    if kind == "name":
        return keep(value, 1, 0)
    if kind == "address":
        return (district_of(value) or "") + "***"
    return value  # credit codes are public registration data
