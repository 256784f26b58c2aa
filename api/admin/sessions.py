"""Ending what a user is signed in with, everywhere: sessions live in the database, so every
worker refuses them on their next request."""

from __future__ import annotations

from datetime import datetime

from models import AccessToken, AuthSession, Device, TokenFamily


async def end_sessions(
    user_pk: int, now: datetime, *, keep: int | None = None, devices: bool = True
) -> int:
    """Revoke the user's sessions (but `keep`, a session's key), OAuth2 tokens acting for them
    and, with `devices`, their registered devices. Returns the sessions ended."""
    sessions = AuthSession.filter(user_id=user_pk, revoked_at__isnull=True)
    if keep is not None:
        sessions = sessions.exclude(id=keep)
    ended = await sessions.update(revoked_at=now)
    if devices:
        await Device.filter(user_id=user_pk, revoked_at__isnull=True).update(revoked_at=now)
    await TokenFamily.filter(user_id=user_pk, revoked_at__isnull=True).update(revoked_at=now)
    await AccessToken.filter(user_id=user_pk, revoked_at__isnull=True).update(revoked_at=now)
    return int(ended)
