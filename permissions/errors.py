"""The answers a decision gives a client when it refuses or cannot open: each has a stable
`extensions.code` and a fixed, PHI-free message. The schema's other errors build on these."""

from __future__ import annotations

from typing import ClassVar

from crypto.errors import CryptoError
from crypto.keyring import Keyring
from crypto.sealed import Sealed


class PhigateError(Exception):
    """An expected error, shown to the client as is. Anything else is masked."""

    code: ClassVar[str]
    default_message: ClassVar[str]

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.extensions = {"code": self.code}


class NotFound(PhigateError):
    code = "NOT_FOUND"
    default_message = "Not found"


class Forbidden(PhigateError):
    code = "FORBIDDEN"
    default_message = "Not permitted to read this field"


class PhiUnavailable(PhigateError):
    code = "PHI_UNAVAILABLE"
    default_message = "This value cannot be decrypted right now"


class AuditUnavailable(PhigateError):
    code = "AUDIT_UNAVAILABLE"
    default_message = "The audit trail could not be written, so no data is returned"


def opened(keyring: Keyring, sealed: Sealed | None) -> str | None:
    """The plaintext of `sealed` (None for none); PHI_UNAVAILABLE if its key is missing or
    its seal broken, never the cause (which names neither the value nor the key)."""
    if sealed is None:
        return None
    try:
        return keyring.open(sealed)
    except CryptoError:
        raise PhiUnavailable() from None
