"""Key providers hold the key-encryption key (KEK) that wraps the data keys.

The local provider keeps the KEK in `PHIGATE_MASTER_KEY` (or a 0600 file generated on first local
run). Cloud KMS or Vault transit adapters implement the same two methods.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import KeyUnavailable

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12


class KeyProvider(Protocol):
    name: str

    def wrap(self, key: bytes, context: str) -> bytes: ...

    def unwrap(self, wrapped: bytes, context: str) -> bytes: ...


class LocalKeyProvider:
    """AES-256-GCM key wrapping under a locally held master key."""

    name = "local"

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_BYTES:
            raise ValueError("master key must be 32 bytes")
        self._aead = AESGCM(master_key)

    def wrap(self, key: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, key, context.encode())

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(
                wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context.encode()
            )
        except InvalidTag:
            # Wrong master key, or a wrapped key moved to another version/purpose.
            raise KeyUnavailable() from None


def decode_master_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        raise ValueError("PHIGATE_MASTER_KEY is not valid base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ValueError("PHIGATE_MASTER_KEY must decode to 32 bytes")
    return key


def load_or_create_master_key_file(path: Path) -> bytes:
    """Read the local master key file, creating it (mode 0600) on first run."""
    if path.exists():
        return decode_master_key(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    text = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    return decode_master_key(text)
