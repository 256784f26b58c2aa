"""Audit records of command-line operations: who ran them (the OS account), and what they did."""

from __future__ import annotations

import getpass
import secrets
from datetime import UTC, datetime

from audit.events import Actor, OpsEvent, record_event
from permissions.roles import Purpose, Role


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        # No login name in a bare container: still an operator, just not a named one.
        return "unknown"


OPERATOR = Actor(public_id=f"cli:{_os_user()}"[:64], role=Role.ADMIN.value)


def operation_id() -> str:
    """Ties the records of one command run together (the `request_id` column)."""
    return f"op_{secrets.token_hex(8)}"


async def record_operation(
    event: OpsEvent, detail: str, *, operation: str, purpose: Purpose = Purpose.SECURITY
) -> None:
    await record_event(
        event,
        OPERATOR,
        at=datetime.now(UTC),
        request_id=operation,
        ip=None,
        purpose=purpose,
        detail=detail,
    )
