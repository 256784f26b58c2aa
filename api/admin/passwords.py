"""A user's own password change: the forced one after an initial password, or any later one.
Every other session of the user ends (a changed password is often a suspected compromise)."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from api.admin.acting import Acting
from api.admin.sessions import end_sessions
from api.auth.password_policy import PasswordRejected, check_password
from api.auth.passwords import hash_password, verify_password
from api.clock import Clock
from audit.events import AdminEvent
from models import User


async def change_password(
    acting: Acting, user: User, new: str, clock: Clock, *, keep: int | None = None
) -> None:
    """Raises PasswordRejected (audited as PASSWORD_REJECTED, without the password)."""
    now = clock.now()
    try:
        check_password(new, user.username)
        if verify_password(user.password_hash, new):
            raise PasswordRejected("The new password must differ from the current one")
    except PasswordRejected:
        await acting.record(AdminEvent.PASSWORD_REJECTED, now, user.public_id)
        raise
    async with in_transaction():
        await acting.record(AdminEvent.PASSWORD_CHANGED, now, user.public_id)
        await User.filter(id=user.id).update(
            password_hash=hash_password(new), must_change_password=False
        )
        await end_sessions(user.id, now, keep=keep, devices=False)
    user.must_change_password = False
