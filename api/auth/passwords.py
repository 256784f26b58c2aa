"""Password and PIN hashing with Argon2id (argon2-cffi defaults follow RFC 9106)."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when the account does not exist, so both paths cost one Argon2 run.
_DUMMY = _hasher.hash("phigate-no-such-account")


def hash_password(password: str) -> str:
    return _hasher.hash(_nfkc(password))


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, _nfkc(password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _nfkc(password: str) -> str:
    # NIST SP 800-63B: one passphrase typed with composed or decomposed characters is one
    # password. ASCII passwords are unchanged.
    return unicodedata.normalize("NFKC", password)
