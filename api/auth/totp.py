"""TOTP (RFC 6238) second factor: 30 s steps, +-1 step window, each step usable once."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp
import segno

from api.auth.tokens import digest

STEP_SECONDS = 30
ISSUER = "phigate"
RECOVERY_CODES = 10


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_png_data_uri(uri: str) -> str:
    return str(segno.make(uri, error="m").png_data_uri(scale=4))


def qr_svg(uri: str) -> str:
    """The same QR code as inline SVG markup, for the enrolment page (no image request)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def matching_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` is valid for, if it is within one step of now and not yet used."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_digest(code: str) -> str:
    return digest(code.strip().upper().replace(" ", ""))
