"""Pseudonymous record ids for reports: HMAC-SHA256 of the public id under a per-report key.

A report's key is random and lives in memory for that report only (see permissions/report_pages.py
for how a report spanning several pages carries it), so the same record has the same pseudonym
throughout one report (rows and their children join) and unrelated pseudonyms in any other
report, and no pseudonym can be computed from, or mapped back to, a public id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

PREFIX = "rid_"
KEY_BYTES = 32
_DIGEST_BYTES = 16
"""128 bits: no two records of a report share a pseudonym in practice."""


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Marks a subject as read through a report, and holds that report's pseudonym key."""

    key: bytes = field(default_factory=lambda: secrets.token_bytes(KEY_BYTES), repr=False)

    def pseudonym(self, public_id: str) -> str:
        digest = hmac.digest(self.key, public_id.encode(), hashlib.sha256)[:_DIGEST_BYTES]
        return PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")
