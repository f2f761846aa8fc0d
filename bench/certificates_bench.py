"""E-certificate benchmark: issuing and verifying a certificate, against the bare SM2 sign and
verify (SM3 with the default signer ID) on the same payload, in the same run.

    python bench/certificates_bench.py [--rounds 30]

On a SQLite database in a scratch directory, with one issuing unit, its certificate manager and
the birth medical certificate type (出生医学证明, four fields). Timed, each the median of
``--rounds`` after one round to warm up:

- **bare SM2 sign / verify**: ``signing.sign`` / ``signing.verify`` of a certificate's canonical
  payload (about 700 bytes) by the engine the platform signs with here (Tongsuo's SM2 in C where
  its wheel is installed, else gmssl's pure Python), nothing else; and, where the engine is
  Tongsuo, gmssl's sign and verify too (what the platform falls back on where Tongsuo has no wheel).
- **issue**: ``service.issue_certificate`` in its own transaction, committed: the type and
  fields checked, the unit's key unsealed (Fernet), the identifier and its MOD 37,36 check, the
  payload signed, the row, the ledger entry and the outbox event written, the commit.
- **verify (online, record match)**: ``verify_certificate`` of the token, which the record
  matches byte for byte — no SM2 verification.
- **verify (online, signature checked)**: the same with ``check_signature=True``.
- **require_valid**: what another domain calls before relying on a certificate (always checks
  the signature).
- **verify offline**: ``verify_offline`` with the published keys only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdb import open_db
from citybase.core.codes import citizen_id_check_char, credit_code_check_char
from citybase.core.identity import service as identity
from citybase.core.identity.schemas import Role, UserCreate
from citybase.core.ledger.schemas import Actor
from citybase.core.orgs import service as orgs
from citybase.core.orgs.schemas import RegionCreate, RegionLevel, UnitCreate
from citybase.data.certificates import repository, service, signing
from citybase.data.certificates.schemas import CertificateCreate, CertificateTypeCreate

ACTOR = Actor.system("bench")
MASKING_KEY = "5a" * 32


def with_gmssl(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a signing function with gmssl as the engine, whatever this machine has."""
    engine, signing._ENGINE = signing._ENGINE, "gmssl"
    try:
        return fn(*args)
    finally:
        signing._ENGINE = engine


def credit(body: str) -> str:
    first17 = (body + "0" * 17)[:17]
    return first17 + credit_code_check_char(first17)


def citizen_id(n: int) -> str:
    first17 = f"35010220261130{n % 1000:03d}"
    return first17 + citizen_id_check_char(first17)


BIRTH = credit("11100000MB0NHC") + "001"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="certs-bench-"))
    db = open_db("sqlite", where)
    with db.session_scope() as session:
        orgs.create_region(session, ACTOR, RegionCreate(code="350100", name="福州市",
                                                        level=RegionLevel.city))  # fmt: skip
        orgs.create_unit(session, ACTOR, UnitCreate(code="fz.health", name="福州市卫生健康委员会",
                                                    region_code="350100",
                                                    credit_code=credit("11350100MB0W")))  # fmt: skip
        identity.create_user(session, None, UserCreate(
            username="healthcert", display_name="证照管理员", password="bench password 123",  # noqa: S106
            unit_code="fz.health", roles=[Role.certificate_manager]), actor=ACTOR)  # fmt: skip
        service.define_certificate_type(session, ACTOR, CertificateTypeCreate.model_validate({
            "code": BIRTH, "name": "出生医学证明", "holder_kind": "person",
            "issuer_kind": "卫生健康行政部门", "issuer_units": ["fz.health"],
            "fields": [{"name": "sex", "label": "性别", "kind": "choice", "choices": ["男", "女"]},
                       {"name": "birth_date", "label": "出生日期", "kind": "date"},
                       {"name": "mother", "label": "母亲姓名"},
                       {"name": "weight_g", "label": "出生体重（克）", "kind": "number"}],
        }))  # fmt: skip
    with db.session_scope(readonly=True) as session:
        manager = identity.principal_for(session, "healthcert")

    tokens: list[str] = []

    def issue(n: int) -> None:
        data = CertificateCreate(type_code=BIRTH, holder_name="林小雨", holder_id=citizen_id(n),
                                 fields={"sex": "女", "birth_date": "2026-11-30", "mother": "陈静",
                                         "weight_g": "3250"})  # fmt: skip
        with db.session_scope() as session:
            tokens.append(service.issue_certificate(session, manager, data, MASKING_KEY).token)

    issue(-1)
    token = signing.read_token(tokens[-1])
    with db.session_scope(readonly=True) as session:
        published = {k.key_id: k.public_key for k in service.list_public_keys(session)}
        identifier = str(token.payload["id"])
        key = repository.key_by_id(session, str(token.payload["kid"]))
        assert key is not None
        private = signing.open_private_key(key.private_key_sealed, MASKING_KEY)
        public = key.public_key

    def online(check: bool) -> Callable[[int], None]:
        def run(_: int) -> None:
            with db.session_scope(readonly=True) as session:
                result = service.verify_certificate(session, tokens[-1], check_signature=check)
                assert result.valid, result

        return run

    def require(_: int) -> None:
        with db.session_scope(readonly=True) as session:
            service.require_valid(session, identifier)

    # the same unit key, payload and signature as the service's; the rounds interleave, so
    # that a change of the machine's load falls on the reference and the measured alike
    timed: dict[str, Callable[[int], Any]] = {
        "sign": lambda _: signing.sign(private, public, token.payload_bytes),
        "issue": issue,
        "verify": lambda _: signing.verify(public, token.payload_bytes, token.signature),
        "matched": online(False),
        "checked": online(True),
        "require": require,
        "offline": lambda _: service.verify_offline(tokens[-1], published),
    }
    engine = signing.engine()
    if engine != "gmssl":
        timed["gmssl sign"] = lambda _: with_gmssl(
            signing.sign, private, public, token.payload_bytes
        )
        timed["gmssl verify"] = lambda _: with_gmssl(
            signing.verify, public, token.payload_bytes, token.signature
        )
    times: dict[str, list[float]] = {name: [] for name in timed}
    for fn in timed.values():
        fn(-1)  # warm up
    for n in range(args.rounds):
        for name, fn in timed.items():
            start = time.perf_counter()
            fn(n)
            times[name].append((time.perf_counter() - start) * 1000)
    ms = {name: statistics.median(found) for name, found in times.items()}
    sign_ms, verify_ms = ms["sign"], ms["verify"]
    issue_ms, matched_ms, checked_ms = ms["issue"], ms["matched"], ms["checked"]
    require_ms, offline_ms = ms["require"], ms["offline"]

    print(f"payload: {len(token.payload_bytes)} bytes; token: {len(tokens[-1])} characters; "
          f"rounds: {args.rounds} (medians)")  # fmt: skip
    print(f"{f'bare SM2 sign ({engine})':42} {sign_ms:8.2f} ms")
    print(f"{f'bare SM2 verify ({engine})':42} {verify_ms:8.2f} ms")
    for what in ("sign", "verify"):
        if f"gmssl {what}" in ms:
            print(f"{f'bare SM2 {what} (gmssl, the fallback)':42} {ms[f'gmssl {what}']:8.2f} ms")
    rows = [
        ("issue (committed)", issue_ms, sign_ms, "sign"),
        ("verify online, record match", matched_ms, verify_ms, "verify"),
        ("verify online, signature checked", checked_ms, verify_ms, "verify"),
        ("require_valid", require_ms, verify_ms, "verify"),
        ("verify offline", offline_ms, verify_ms, "verify"),
    ]
    for name, ms, reference, what in rows:
        print(f"{name:42} {ms:8.2f} ms  = {ms / reference:5.2f} × bare {what}, "
              f"{ms - reference:+8.2f} ms beside it")  # fmt: skip


if __name__ == "__main__":
    main()
