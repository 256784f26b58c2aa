"""The audit seal key: HMAC-SHA256 over each sealed batch's digest.

Stored like the data keys (wrapped by the key provider), so a database attacker who rewrites
audit rows and recomputes the hash chain still cannot produce valid seals."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from types import MappingProxyType

from crypto.errors import KeyUnavailable

_LABEL = b"phigate-audit-seal|"


class AuditKeys:
    def __init__(self, keys: Mapping[int, bytes]) -> None:
        self._keys = MappingProxyType(dict(keys))

    @property
    def primary(self) -> int:
        """The version new seals use."""
        if not self._keys:
            raise KeyUnavailable()
        return max(self._keys)

    def mac(self, digest: bytes, version: int) -> bytes:
        key = self._keys.get(version)
        if key is None:
            raise KeyUnavailable()
        return hmac.digest(key, _LABEL + digest, hashlib.sha256)

    def verify(self, digest: bytes, version: int, mac: bytes) -> bool:
        try:
            expected = self.mac(digest, version)
        except KeyUnavailable:
            return False
        return hmac.compare_digest(expected, mac)
