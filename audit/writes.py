"""Audit records of writes, in the write's own transaction (DESIGN.md section 10).

A write's record is inserted first, then the write runs on the same connection, and both
commit or neither does: nothing is written without its record, nothing is recorded that was
not written. A refused write wrote nothing, so its record is written at once, on its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from audit.buffer import entry
from observe import metrics
from permissions.decisions import Change
from permissions.errors import AuditUnavailable
from permissions.principal import Principal
from permissions.roles import Decision

log = logging.getLogger("phigate.audit")

T = TypeVar("T")


class WriteAction(StrEnum):
    """The event of a write's audit record."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"
    AMEND = "AMEND"


WRITE_EVENTS = tuple(action.value for action in WriteAction)


def _fields(prefix: str, fields: Sequence[tuple[str, str]]) -> str:
    """The same shape as a read's record: `{"updatePatient.input": ["Patient.phone"]}`."""
    return json.dumps({prefix: [entry(coordinate, key) for key, coordinate in fields]})


_COLUMNS = (
    "at", "request_id", "event", "actor", "role", "client", "purpose", "ip", "patient",
    "decision", "detail", "phi_fields",
)  # fmt: skip
# One statement built once: the ORM builds this INSERT anew for every record, since
# `recorded_at` is the database's default (a fifth of an update's Python time in a profile,
# docs/performance.md).
_INSERT = f"INSERT INTO audit_event ({', '.join(_COLUMNS)}) VALUES "  # noqa: S608 - constants
_POSTGRES = _INSERT + "($1::timestamptz, " + ", ".join(f"${i}" for i in range(2, 13)) + ")"
_SQLITE = _INSERT + "(" + ", ".join("?" for _ in _COLUMNS) + ")"


async def _record(
    principal: Principal,
    change: Change,
    fields: Sequence[tuple[str, str]],
    decision: Decision,
    connection: BaseDBAsyncClient | None,
) -> None:
    db = connection or connections.get("default")
    at = datetime.now(UTC)
    postgres = db.capabilities.dialect == "postgres"
    values = [
        # Stored the way Tortoise stores datetimes on SQLite, so the ORM reads them back.
        at if postgres else at.isoformat(sep=" "),
        principal.request_id,
        change.action,
        principal.actor,
        principal.role.value,
        principal.client,
        (change.purpose or principal.purpose).value,
        principal.ip,
        change.patient_id,
        decision.value,
        change.record_id,
        _fields(change.prefix, fields),
    ]
    try:
        await db.execute_query(_POSTGRES if postgres else _SQLITE, values)
    except Exception as exc:
        metrics.AUDIT_WRITE_FAILURES.labels("change").inc()
        log.error("audit write of a change failed (%s); nothing written", type(exc).__name__)
        raise AuditUnavailable() from None


class AuditedWrites:
    """`permissions.decisions.WriteLog`: how a request's writes are recorded."""

    async def refused(
        self, principal: Principal, change: Change, refused: Sequence[tuple[str, str]]
    ) -> None:
        await _record(principal, change, refused, Decision.DENY, None)

    async def commit(
        self, principal: Principal, change: Change, work: Callable[[Any], Awaitable[T]]
    ) -> T:
        async with in_transaction() as connection:
            await _record(principal, change, change.fields, Decision.ALLOW, connection)
            return await work(connection)
