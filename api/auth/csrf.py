"""A cookie session's CSRF token: derived from the session token, not stored.

HMAC-SHA256 of the token under a server key (the key store's blind-index key, through its own
per-purpose key: nothing else is computed under it), so any worker can compute it again for
`GET /auth/session` after a page reload, and the database still holds nothing but the
session token's hash: what it holds opens nothing, and computes no CSRF token either.
A page on another origin cannot read the cookie or our answers, so it cannot send the token.
"""

from __future__ import annotations

import base64
import hmac

from crypto.keyring import Keyring

PURPOSE = "session-csrf"


def csrf_token(keyring: Keyring, session_token: str) -> str:
    mac = keyring.blind_index(PURPOSE, session_token)
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(keyring: Keyring, session_token: str, presented: str | None) -> bool:
    """Compared in constant time: the comparison must not tell how much of a guess is right."""
    if presented is None:
        return False
    return hmac.compare_digest(csrf_token(keyring, session_token), presented)
