"""A picture code (图形验证码) for public forms, made and checked here: no outside service.

A challenge is four characters drawn by Pillow on a noisy background, given to the page as a
data: URI, and a token: the characters and a one-time nonce sealed (Fernet: encrypted and
authenticated, with its time) under a key derived from the masking key — which production must
set and every server shares, so a form drawn by one server is checked by another. A token is good
for ``TTL`` seconds and once: its nonce is claimed in the platform's shared store
(``core/shared``) until it expires, whether the answer was right or not, so a token answered on
one server is refused by every other, and a wrong answer cannot be tried again on the same
picture."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from citybase.core.errors import InvalidInput
from citybase.core.settings import Settings
from citybase.core.shared.service import SharedStore

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
LENGTH = 4
TTL = 600


@dataclass(frozen=True)
class Challenge:
    token: str
    image: str  # a data: URI of a PNG


def _fernet(settings: Settings) -> Fernet:
    key = hashlib.sha256(b"citybase picture code\0" + settings.masking_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _draw(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rng = secrets.SystemRandom()
    width, height = 150, 54
    image = Image.new("RGB", (width, height), (238, 242, 246))
    draw = ImageDraw.Draw(image)
    for _ in range(8):  # lines across, to trouble a reader that is not a person
        draw.line([(rng.randrange(width), rng.randrange(height)),
                   (rng.randrange(width), rng.randrange(height))],
                  fill=(rng.randrange(120, 200), rng.randrange(120, 200), rng.randrange(120, 200)),
                  width=2)  # fmt: skip
    font = ImageFont.load_default(size=34)
    for n, char in enumerate(text):
        glyph = Image.new("RGBA", (44, 50), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 2), char, font=font, fill=(rng.randrange(0, 90),
                                   rng.randrange(20, 90), rng.randrange(60, 140), 255))  # fmt: skip
        glyph = glyph.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC, expand=False)
        image.paste(glyph, (8 + n * 34 + rng.randrange(-3, 4), rng.randrange(-2, 6)), glyph)
    for _ in range(160):  # specks
        draw.point((rng.randrange(width), rng.randrange(height)), fill=(90, 90, 110))
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def challenge(settings: Settings) -> Challenge:
    text = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    sealed = _fernet(settings).encrypt(json.dumps({"a": text, "n": secrets.token_hex(8)}).encode())
    return Challenge(sealed.decode(),
                     "data:image/png;base64," + base64.b64encode(_draw(text)).decode())  # fmt: skip


def read(settings: Settings, token: str) -> tuple[str, str]:
    """(the characters, the nonce) a token holds; InvalidInput when it is not one of ours or has
    expired."""
    try:
        opened = json.loads(_fernet(settings).decrypt(token.encode(), ttl=TTL))
        return str(opened["a"]), str(opened["n"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        raise InvalidInput("the picture code has expired: type the new one",
                           field="captcha") from None  # fmt: skip


def check(store: SharedStore, settings: Settings, token: str, answer: str) -> None:
    """Pass when ``answer`` is the code of the picture ``token`` came with, given once, in time."""
    text, nonce = read(settings, token)
    if not store.claim(f"captcha:{nonce}", TTL):
        raise InvalidInput("the picture code has been used: type the new one", field="captcha")
    if answer.strip().upper() != text:
        raise InvalidInput("the code does not match the picture", field="captcha")
