"""SM2 signatures of e-certificates (GM/T 0003, with SM3 and the default signer ID), done by a
maintained library; nothing here computes on the curve itself.

- **Tongsuo** (铜锁, the OpenAtom Foundation's fork of OpenSSL made for the national algorithms),
  through its Python SDK ``tongsuopy``, where a wheel of it exists for the machine (x86-64 Linux,
  macOS, Windows): SM2 in C, about a millisecond to sign or verify; the nonce ``k`` is drawn by
  its own generator, and the signer's Z (default ID ``1234567812345678``) computed by it.
- **gmssl** (pure Python) everywhere else (Linux on ARM has no Tongsuo wheel): 8 ms to sign and
  15 ms to verify on a quiet machine. gmssl's own random numbers come from ``random`` (not meant
  for keys), so ``k`` is drawn here from ``secrets`` and handed to it. gmssl's constructor
  strips a leading ``04`` from a public key with ``lstrip`` (which would strip more than the
  prefix), so the key is set on the object after construction. gmssl checks neither ``r`` nor
  ``s`` against the curve's order, so ``verify`` does (for both engines).

Both give signatures of the same standard: each verifies the other's (a test holds them so), so
a certificate signed on one machine is checked on any. The SM3 digests (the fields' hash, key
ids, and gmssl's signer Z and message e) are OpenSSL's through ``cryptography``.

- A unit's key pair: the private key a random scalar from ``secrets``, the public key ``d·G``
  computed by the engine. The private key is kept sealed (Fernet: AES-128-CBC with HMAC-SHA-256,
  from ``cryptography``) under a key derived from the platform's masking key, like the picture
  code's tokens; the public key is published.
- The signed payload is canonical JSON (sorted keys, no spaces, UTF-8); a *token* carries it with
  its signature: ``CBC1.<payload, base64url>.<r‖s, base64url>``, which is what the QR code holds.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from gmssl import sm2

try:
    from tongsuopy.crypto import hashes as tongsuo_hashes
    from tongsuopy.crypto.asymciphers import ec as tongsuo_ec
    from tongsuopy.crypto.exceptions import InvalidSignature as TongsuoInvalidSignature
except ImportError:  # no wheel of it for this machine: gmssl signs alone
    tongsuo_ec = None

TOKEN_PREFIX = "CBC1"  # noqa: S105  (the token format's version, no secret)
_TABLE = sm2.default_ecc_table
_N = int(_TABLE["n"], 16)
_HEX = frozenset("0123456789abcdef")


class BadToken(ValueError):
    """A token that is not one: wrong shape, not base64, not JSON, or a signature of the wrong
    length. The reason says which."""


@dataclass(frozen=True)
class KeyPair:
    private_hex: str  # 64 hex digits
    public_hex: str  # 128 hex digits: x ‖ y, without the 04 prefix


def engine() -> str:
    """Which library signs and verifies here: ``tongsuo`` or ``gmssl``."""
    return _ENGINE


_ENGINE = "gmssl" if tongsuo_ec is None else "tongsuo"


def _crypt(private_hex: str, public_hex: str) -> sm2.CryptSM2:
    crypt = sm2.CryptSM2(private_key=private_hex, public_key="")
    crypt.public_key = public_hex  # see the module's docstring: the constructor mangles it
    return crypt


def generate_key_pair() -> KeyPair:
    d = secrets.randbelow(_N - 2) + 1  # 1 ≤ d ≤ n-2 (GB/T 32918.1)
    private_hex = f"{d:064x}"
    if _ENGINE == "tongsuo":
        point = tongsuo_ec.derive_private_key(d, tongsuo_ec.SM2()).public_key().public_numbers()
        return KeyPair(private_hex, f"{point.x:064x}{point.y:064x}")
    public_hex = str(_crypt(private_hex, "")._kg(d, _TABLE["g"]))
    return KeyPair(private_hex, public_hex)


def key_id(public_hex: str) -> str:
    """A key's short name: the first 16 hex digits of the SM3 hash of its public key."""
    return sm3_hex(bytes.fromhex(public_hex))[:16]


def sm3_digest(data: bytes) -> bytes:
    """SM3 (GB/T 32905) by OpenSSL through ``cryptography``: the same digest as gmssl's
    pure-Python one (a test holds them equal), some hundred times faster."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm3_hex(data: bytes) -> str:
    return sm3_digest(data).hex()


# GM/T 0003's Z for the default signer ID 1234567812345678: ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG, then xA ‖ yA
_Z_PREFIX = bytes.fromhex(
    "0080" + "31323334353637383132333435363738" + _TABLE["a"] + _TABLE["b"] + _TABLE["g"]
)


def _message_digest(public_hex: str, data: bytes) -> bytes:
    """e = SM3(Z ‖ M), what SM2 signs (gmssl's ``sign_with_sm3`` computes the same, slowly)."""
    return sm3_digest(sm3_digest(_Z_PREFIX + bytes.fromhex(public_hex)) + data)


def is_public_key(value: str) -> bool:
    text = value.lower().removeprefix("04") if len(value) == 130 else value.lower()
    return len(text) == 128 and set(text) <= _HEX


def normal_public_key(value: str) -> str:
    """A published key in either form (128 hex digits, or 130 with the 04 prefix)."""
    text = value.strip().lower()
    return text[2:] if len(text) == 130 and text.startswith("04") else text


def sign(private_hex: str, public_hex: str, data: bytes) -> bytes:
    """SM2 with SM3 over ``data``: the 64 bytes r ‖ s. The signer's Z is computed from the key
    pair's public key (``public_hex`` must be the private key's own)."""
    if _ENGINE == "tongsuo":
        key = tongsuo_ec.derive_private_key(int(private_hex, 16), tongsuo_ec.SM2())
        r, s = decode_dss_signature(key.sign(data, tongsuo_ec.ECDSA(tongsuo_hashes.SM3())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    crypt = _crypt(private_hex, public_hex)
    digest = _message_digest(public_hex, data)
    while True:  # gmssl answers None for the rare k that gives r = 0 or s = 0: draw again
        k = f"{secrets.randbelow(_N - 1) + 1:064x}"
        signature = crypt.sign(digest, k)
        if signature:
            return bytes.fromhex(signature)


def verify(public_hex: str, data: bytes, signature: bytes) -> bool:
    if len(signature) != 64 or not is_public_key(public_hex):
        return False
    r, s = int.from_bytes(signature[:32]), int.from_bytes(signature[32:])
    if not (0 < r < _N and 0 < s < _N):
        return False
    public_hex = normal_public_key(public_hex)
    if _ENGINE == "tongsuo":
        try:
            key = tongsuo_ec.EllipticCurvePublicKey.from_encoded_point(
                tongsuo_ec.SM2(), b"\x04" + bytes.fromhex(public_hex)
            )
            key.verify(encode_dss_signature(r, s), data, tongsuo_ec.ECDSA(tongsuo_hashes.SM3()))
        except TongsuoInvalidSignature:
            return False
        except ValueError:  # a public key that is not a point of the curve
            return False
        return True
    try:
        digest = _message_digest(public_hex, data)
        return bool(_crypt("", public_hex).verify(signature.hex(), digest))
    except (ValueError, TypeError):  # a public key that is not a point of the curve
        return False


# --- payloads and tokens -------------------------------------------------------------------------


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_token(payload: bytes, signature: bytes) -> str:
    return f"{TOKEN_PREFIX}.{_b64(payload)}.{_b64(signature)}"


@dataclass(frozen=True)
class Token:
    payload: dict[str, Any]
    payload_bytes: bytes
    signature: bytes


def read_token(text: str) -> Token:
    """Split a token (or a verification URL holding one as ``?c=``) into its parts."""
    text = text.strip()
    if "c=" in text and "://" in text:  # the QR code's URL
        text = text.split("c=", 1)[1].split("&", 1)[0]
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise BadToken(f"a certificate token reads {TOKEN_PREFIX}.<payload>.<signature>")
    try:
        payload_bytes, signature = _unb64(parts[1]), _unb64(parts[2])
        payload = json.loads(payload_bytes)
    except (binascii.Error, ValueError) as exc:
        raise BadToken("the token's payload or signature is not base64url JSON") from exc
    if not isinstance(payload, dict):
        raise BadToken("the token's payload is not a JSON object")
    if len(signature) != 64:
        raise BadToken("an SM2 signature has 64 bytes (r ‖ s)")
    return Token(payload, payload_bytes, signature)


# --- private keys at rest ------------------------------------------------------------------------


def _fernet(master_hex: str, purpose: bytes = b"keys") -> Fernet:
    key = hashlib.sha256(b"citybase certificate " + purpose + b"\0" + master_hex.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_private_key(private_hex: str, master_hex: str) -> str:
    return _fernet(master_hex).encrypt(private_hex.encode()).decode()


def open_private_key(sealed: str, master_hex: str) -> str:
    try:
        return _fernet(master_hex).decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the unit's private key does not open with this platform's key") from exc


def seal_value(value: str, master_hex: str) -> str:
    """A holder's identity number, sealed under a key of its own derived the same way."""
    return _fernet(master_hex, b"holders").encrypt(value.encode()).decode()


def open_value(sealed: str, master_hex: str) -> str:
    try:
        return _fernet(master_hex, b"holders").decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("the holder's number does not open with this platform's key") from exc
