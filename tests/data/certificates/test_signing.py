"""SM2 signing: our signatures are gmssl's own (its ``verify_with_sm3`` accepts them, and ours
accepts its ``sign_with_sm3``), OpenSSL's SM3 agrees with gmssl's, a public key starting with
04 survives, sealed keys open only under their master key, and tokens refuse what is not one."""

from __future__ import annotations

from datetime import date

import pytest
from gmssl import sm2, sm3

from citybase.data.certificates import identifier as ids
from citybase.data.certificates import signing

DATA = '出生医学证明 {"id":1}'.encode()


ENGINES = ["gmssl"] + (["tongsuo"] if signing.tongsuo_ec is not None else [])


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test below runs with each signing library this machine has."""
    monkeypatch.setattr(signing, "_ENGINE", request.param)
    return str(request.param)


def test_the_engine_is_tongsuo_where_it_is_installed() -> None:
    assert signing.engine() == ("gmssl" if signing.tongsuo_ec is None else "tongsuo")


@pytest.mark.skipif(signing.tongsuo_ec is None, reason="tongsuopy has no wheel for this machine")
def test_each_engine_verifies_the_others_signatures(monkeypatch: pytest.MonkeyPatch) -> None:
    signed = {}
    for name in ("tongsuo", "gmssl"):
        monkeypatch.setattr(signing, "_ENGINE", name)
        pair = signing.generate_key_pair()
        signed[name] = (pair, signing.sign(pair.private_hex, pair.public_hex, DATA))
    for name, other in (("tongsuo", "gmssl"), ("gmssl", "tongsuo")):
        monkeypatch.setattr(signing, "_ENGINE", name)
        pair, signature = signed[other]
        assert signing.verify(pair.public_hex, DATA, signature)
        assert not signing.verify(pair.public_hex, DATA + b"!", signature)
        flipped = signature[:40] + bytes([signature[40] ^ 1]) + signature[41:]
        assert not signing.verify(pair.public_hex, DATA, flipped)
    # the same private key gives the same public key in both
    private = signed["gmssl"][0].private_hex
    monkeypatch.setattr(signing, "_ENGINE", "tongsuo")
    d = int(private, 16)
    point = signing.tongsuo_ec.derive_private_key(d, signing.tongsuo_ec.SM2()).public_key()
    numbers = point.public_numbers()
    assert f"{numbers.x:064x}{numbers.y:064x}" == signed["gmssl"][0].public_hex


def test_signatures_agree_with_gmssls_own_sm3_path(engine: str) -> None:
    pair = signing.generate_key_pair()
    ours = signing.sign(pair.private_hex, pair.public_hex, DATA)
    theirs = sm2.CryptSM2(private_key=pair.private_hex, public_key="")
    theirs.public_key = pair.public_hex
    assert theirs.verify_with_sm3(ours.hex(), DATA)
    assert signing.verify(pair.public_hex, DATA, bytes.fromhex(theirs.sign_with_sm3(DATA)))
    assert not signing.verify(pair.public_hex, DATA + b"!", ours)
    assert not signing.verify(signing.generate_key_pair().public_hex, DATA, ours)
    assert signing.verify("04" + pair.public_hex, DATA, ours)  # the published form
    assert not signing.verify(pair.public_hex, DATA, b"\0" * 64)  # r = s = 0
    assert not signing.verify("zz" * 64, DATA, ours)
    assert not signing.verify("01" * 64, DATA, ours)  # not a point of the curve


def test_sm3_is_the_same_digest() -> None:
    for data in (b"", b"abc", DATA, bytes(range(256)) * 3):
        assert signing.sm3_hex(data) == sm3.sm3_hash(list(data))


def test_sealed_keys_open_only_under_their_master_key() -> None:
    sealed = signing.seal_private_key("ab" * 32, "11" * 32)
    assert "ab" * 32 not in sealed
    assert signing.open_private_key(sealed, "11" * 32) == "ab" * 32
    with pytest.raises(ValueError, match="does not open"):
        signing.open_private_key(sealed, "22" * 32)
    with pytest.raises(ValueError, match="does not open"):  # keys and holders' numbers apart
        signing.open_value(sealed, "11" * 32)


@pytest.mark.parametrize("text", ["", "CBC1", "CBC2.a.b", "CBC1.!!.!!", "CBC1.e30.AAAA",
                                  "CBC1.WzFd." + "A" * 86])  # fmt: skip
def test_what_is_no_token(text: str) -> None:
    with pytest.raises(signing.BadToken):
        signing.read_token(text)


def test_identifier_check_character() -> None:
    made = ids.build("11100000MB0NHC000T001", "11350100MB0H00000T", date(2026, 12, 6), 12)
    parts = ids.parse(made)
    assert parts is not None
    assert parts.serial == "202612060012"
    tampered = made[:-1] + ("A" if made[-1] != "A" else "B")
    assert ids.parse(tampered) is None
    assert ids.type_code_problem("11100000MB0NHC000T001") is None
    assert ids.type_code_problem("11100000MB0NHC000X001") is not None  # wrong check character
