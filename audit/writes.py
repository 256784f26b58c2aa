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

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from audit.buffer import entry
from models import AuditEvent
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


async def _record(
    principal: Principal,
    change: Change,
    fields: Sequence[tuple[str, str]],
    decision: Decision,
    connection: BaseDBAsyncClient | None,
) -> None:
    try:
        await AuditEvent.create(
            using_db=connection,
            at=datetime.now(UTC),
            request_id=principal.request_id,
            event=change.action,
            actor=principal.actor,
            role=principal.role.value,
            client=principal.client,
            purpose=(change.purpose or principal.purpose).value,
            ip=principal.ip,
            patient=change.patient_id,
            decision=decision.value,
            detail=change.record_id,
            phi_fields=_fields(change.prefix, fields),
        )
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
