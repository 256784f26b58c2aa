"""Password hashing with Argon2id (argon2-cffi defaults follow RFC 9106's second profile)."""

from __future__ import annotations

from argon2 import PasswordHasher

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)
