"""The in-memory keyring: versioned AES-256-GCM data keys and the blind-index key.

Blob layout: format byte, key version (u32 big endian), 96-bit random nonce, ciphertext + tag.
Associated data is `table.column|row public id|key version`, so a ciphertext copied to another
row or column, or relabelled with another key version, fails to open.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.errors import KeyUnavailable, SealBroken
from crypto.sealed import Sealed

_FORMAT = 1
_HEADER = struct.Struct(">BI")
_HEADER_BYTES = _HEADER.size
_NONCE_BYTES = 12
_PREFIX = _HEADER_BYTES + _NONCE_BYTES
VERSION_OFFSET = 1
"""Where the key version starts in a blob: stored SQL can select rows by version."""
VERSION_BYTES = 4


class Keyring:
    def __init__(self, data_keys: Mapping[int, bytes], primary: int, index_key: bytes) -> None:
        if primary not in data_keys:
            raise KeyUnavailable()
        self._aeads = {version: AESGCM(key) for version, key in data_keys.items()}
        self._openers = _openers(self._aeads)
        self._primary = primary
        self._sealing = _sealing(self._aeads, primary)
        self._index_key = index_key
        self._column_index_keys: dict[str, bytes] = {}
        self._suspended = False

    @property
    def primary(self) -> int:
        """The data key version new values are sealed with."""
        return self._primary

    @property
    def versions(self) -> frozenset[int]:
        return frozenset(self._aeads)

    @property
    def suspended(self) -> bool:
        return self._suspended

    def suspend(self) -> None:
        """Refuse every seal, open and blind index until `resume`: the key provider stopped
        answering, and keys it no longer vouches for are not used (fail closed). Opening
        finds no key at all, so the hot path pays nothing for the check."""
        self._suspended = True
        self._openers = {}

    def resume(self) -> None:
        self._openers = _openers(self._aeads)
        self._suspended = False

    def learn(self, data_keys: Mapping[int, bytes]) -> None:
        """Add data key versions created since this keyring was loaded (a rotation elsewhere);
        the newest becomes primary. Running requests see the change at once: the keyring is
        shared, and each attribute is replaced in one step."""
        if not data_keys:
            return
        aeads = {**self._aeads, **{v: AESGCM(k) for v, k in data_keys.items()}}
        if not self._suspended:
            self._openers = _openers(aeads)
        self._aeads = aeads
        self._primary = max(aeads)
        self._sealing = _sealing(aeads, self._primary)

    @staticmethod
    def version_of(blob: bytes) -> int:
        """The data key version a stored blob was sealed with (no key needed)."""
        if len(blob) < _PREFIX:
            raise SealBroken()
        fmt, version = _HEADER.unpack_from(blob)
        if fmt != _FORMAT:
            raise SealBroken()
        return int(version)

    def seal(self, plaintext: str, binding: str) -> Sealed:
        return self.seal_all(((plaintext, binding),))[0]

    def seal_all(self, values: Sequence[tuple[str, str]]) -> list[Sealed]:
        """Seal each (plaintext, binding) under the primary key: a row's values at once, their
        nonces drawn in one read of the system's random source (a registration seals ten)."""
        if self._suspended:
            raise KeyUnavailable()
        aead, header, suffix = self._sealing
        nonces = os.urandom(_NONCE_BYTES * len(values))
        sealed = []
        for start, (plaintext, binding) in zip(
            range(0, len(nonces), _NONCE_BYTES), values, strict=True
        ):
            nonce = nonces[start : start + _NONCE_BYTES]
            body = aead.encrypt(nonce, plaintext.encode(), binding.encode() + suffix)
            sealed.append(Sealed(header + nonce + body, binding))
        return sealed

    def open(self, sealed: Sealed) -> str:
        # The hot path of every PHI field: the header picks the key and the AAD's version
        # suffix in one lookup.
        blob, binding = sealed
        opener = self._openers.get(blob[:_HEADER_BYTES])
        if opener is None or len(blob) < _PREFIX:
            self.version_of(blob)  # SealBroken if the blob is not ours at all
            raise KeyUnavailable()
        aead, suffix = opener
        try:
            plain = aead.decrypt(
                blob[_HEADER_BYTES:_PREFIX], blob[_PREFIX:], binding.encode() + suffix
            )
        except InvalidTag:
            raise SealBroken() from None
        return plain.decode()

    def blind_index(self, column: str, normalized: str) -> bytes:
        """HMAC-SHA256 under a per-column key, so equal values in two columns do not match."""
        if self._suspended:
            raise KeyUnavailable()
        key = self._column_index_keys.get(column)
        if key is None:
            key = hmac.digest(self._index_key, b"blind-index|" + column.encode(), hashlib.sha256)
            self._column_index_keys[column] = key
        return hmac.digest(key, normalized.encode(), hashlib.sha256)


def _sealing(aeads: Mapping[int, AESGCM], version: int) -> tuple[AESGCM, bytes, bytes]:
    """What sealing under key `version` needs: its key, blob header and associated-data
    suffix (`|version`), built once per primary key rather than per value."""
    return aeads[version], _HEADER.pack(_FORMAT, version), _suffix(version)


def _suffix(version: int) -> bytes:
    return f"|{version}".encode()


def _openers(aeads: Mapping[int, AESGCM]) -> dict[bytes, tuple[AESGCM, bytes]]:
    """Blob header -> (its key, the version suffix of its associated data)."""
    return {
        _HEADER.pack(_FORMAT, version): (aead, _suffix(version)) for version, aead in aeads.items()
    }


def version_bytes(version: int) -> bytes:
    """A key version as stored in a blob (bytes VERSION_OFFSET .. +VERSION_BYTES)."""
    return struct.pack(">I", version)
