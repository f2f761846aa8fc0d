"""The e-certificate identifier (电子证照标识) after GB/T 36904-2018, and the type code after
GB/T 36902-2018.

    1.2.156.3005.2 . <type code> . <issuing authority code> . <serial> . <version> . <check>

- the root ``1.2.156.3005.2`` (the e-certificate arc of China's OID tree);
- the certificate type code (证照类型代码): the 18-character unified social credit code of the
  department that defines the type, and a 3-digit number it gives the type (21 characters);
- the issuing authority code (颁发机构代码): the issuing unit's unified social credit code
  (18 characters, GB 32100, check character checked);
- the serial (流水号): the issue date ``YYYYMMDD`` and a running number of at least 4 digits
  per type, unit and day;
- the version (版本号): 3 digits, ``001`` for a first issue;
- the check character (校验位): ISO/IEC 7064 MOD 37,36 over the parts before it, run together
  without the root and the dots (python-stdnum computes it).

The official text of GB/T 36904 was not at hand; the structure above follows published
implementations that cite it (see docs/certificates.md for what is and is not verified).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from stdnum.iso7064 import mod_37_36

from citybase.core.codes import is_credit_code

ROOT = "1.2.156.3005.2"
TYPE_CODE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}\d{3}$")
_SHAPE = re.compile(
    r"^1\.2\.156\.3005\.2\.(?P<type>[0-9A-Z]{21})\.(?P<issuer>[0-9A-Z]{18})\."
    r"(?P<serial>\d{12,16})\.(?P<version>\d{3})\.(?P<check>[0-9A-Z])$"
)


@dataclass(frozen=True)
class Parts:
    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str


def type_code_problem(code: str) -> str | None:
    """Why ``code`` is not a certificate type code, or None."""
    if not TYPE_CODE.match(code):
        return "a type code is a defining department's credit code (18) and 3 digits"
    if not is_credit_code(code[:18]):
        return "the type code's first 18 characters fail the credit code's check (GB 32100)"
    return None


def check_character(body: str) -> str:
    return str(mod_37_36.calc_check_digit(body))


def build(type_code: str, issuer_code: str, issued: date, running: int, version: int = 1) -> str:
    serial = f"{issued:%Y%m%d}{running:04d}"
    body = f"{type_code}{issuer_code}{serial}{version:03d}"
    return f"{ROOT}.{type_code}.{issuer_code}.{serial}.{version:03d}.{check_character(body)}"


def parse(identifier: str) -> Parts | None:
    """The parts of a well-formed identifier whose check character agrees, or None."""
    found = _SHAPE.match(identifier.strip())
    if not found:
        return None
    parts = Parts(found["type"], found["issuer"], found["serial"], found["version"], found["check"])
    body = parts.type_code + parts.issuer_code + parts.serial + parts.version
    return parts if check_character(body) == parts.check else None
