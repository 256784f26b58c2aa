"""Which passwords are accepted (NIST SP 800-63B, 5.1.1.2): long enough, not a common or
breached one, not the account's own name. No composition rules, no forced periodic change.

The list shipped in `data/common-passwords.txt` is read once, on first use."""

from __future__ import annotations

import secrets
import unicodedata
from functools import cache
from importlib.resources import files

MIN_LENGTH = 12
MAX_LENGTH = 1024
"""Long passphrases are welcome; this bounds the Argon2 input and the request body only."""
MIN_DISTINCT = 5
"""`aaaaaaaaaaaa` or `abababababab` is long but no secret (800-63B: repetitive characters)."""
INITIAL_BYTES = 15
"""A one-time initial password: 120 random bits, 20 URL-safe characters."""


class PasswordRejected(Exception):
    """Why a chosen password is refused; the message never quotes the password."""


def normalized(password: str) -> str:
    """NFKC, as 800-63B asks, so one passphrase typed on two keyboards is one password."""
    return unicodedata.normalize("NFKC", password)


@cache
def _common() -> frozenset[str]:
    text = files("api.auth").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line and not line.startswith("#")
    )


def _stem(password: str) -> str:
    """The password without the digits and symbols people append to a common word."""
    return password.rstrip("0123456789!@#$%^&*?.,;:-_+=~ ")


def check_password(password: str, username: str | None = None) -> None:
    """Raises PasswordRejected with a reason a user can act on."""
    value = normalized(password)
    if len(value) < MIN_LENGTH:
        raise PasswordRejected(f"The password must be at least {MIN_LENGTH} characters long")
    if len(value) > MAX_LENGTH:
        raise PasswordRejected(f"The password must be at most {MAX_LENGTH} characters long")
    folded = value.casefold()
    if len(set(folded)) < MIN_DISTINCT:
        raise PasswordRejected("The password repeats too few characters")
    common = _common()
    stem = _stem(folded)
    if folded in common or stem in common or _repeats_common(stem, common):
        raise PasswordRejected("This password is on a list of common or breached passwords")
    if username and username.casefold() in folded:
        raise PasswordRejected("The password must not contain the username")


def _repeats_common(stem: str, common: frozenset[str]) -> bool:
    """`dragondragon`, `qwertyqwerty`: a common password said twice or more."""
    for size in range(1, len(stem) // 2 + 1):
        if len(stem) % size == 0 and stem[:size] * (len(stem) // size) == stem:
            return stem[:size] in common
    return False


def initial_password() -> str:
    return secrets.token_urlsafe(INITIAL_BYTES)
