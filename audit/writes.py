"""Audit records of writes, in the write's own transaction (DESIGN.md section 10).

A write's record and the write run on the same connection, in one transaction, and both commit
or neither does: nothing is written without its record, nothing is recorded that was not
written. The record goes in with the write's first new row (`Transaction.insert`): on
PostgreSQL in the same statement, a data-modifying `WITH` in front of the row's INSERT; on
SQLite, embedded, just before it in the same trip to aiosqlite's thread (one round trip fewer
a write either way, models/inserts.py). A refused
write wrote nothing, so its record is written at once, on its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from audit.buffer import entry
from models.inserts import insert_after, insert_after_sqlite
from observe import metrics
from permissions.decisions import Change
from permissions.errors import AuditUnavailable
from permissions.principal import Principal
from permissions.roles import Decision

log = logging.getLogger("phigate.audit")

T = TypeVar("T")


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
_SQLITE = _INSERT + "(" + ", ".join("?" for _ in _COLUMNS) + ")"


@cache
def _postgres(after: int) -> str:
    """The record's INSERT with its placeholders numbered from `after + 1`."""
    slots = [f"${after + i}" for i in range(1, len(_COLUMNS) + 1)]
    return f"{_INSERT}({slots[0]}::timestamptz, {', '.join(slots[1:])})"


@cache
def _with_record(after: int) -> str:
    """The record as a data-modifying WITH in front of a row's INSERT of `after` values."""
    return f"WITH audit AS ({_postgres(after)}) "


def _values(
    principal: Principal,
    change: Change,
    fields: Sequence[tuple[str, str]],
    decision: Decision,
    postgres: bool,
) -> list[Any]:
    at = datetime.now(UTC)
    return [
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


def _failed(exc: Exception) -> AuditUnavailable:
    metrics.AUDIT_WRITE_FAILURES.labels("change").inc()
    log.error("audit write of a change failed (%s); nothing written", type(exc).__name__)
    return AuditUnavailable()


async def _record(
    principal: Principal,
    change: Change,
    fields: Sequence[tuple[str, str]],
    decision: Decision,
    connection: BaseDBAsyncClient | None,
) -> None:
    db = connection or connections.get("default")
    postgres = db.capabilities.dialect == "postgres"
    values = _values(principal, change, fields, decision, postgres)
    try:
        await db.execute_query(_postgres(0) if postgres else _SQLITE, values)
    except Exception as exc:
        raise _failed(exc) from None


class Transaction:
    """`permissions.decisions.Transaction`: a write's transaction as its work sees it."""

    __slots__ = ("_change", "_principal", "_recorded", "connection")

    def __init__(self, connection: BaseDBAsyncClient, principal: Principal, change: Change) -> None:
        self.connection = connection
        self._principal = principal
        self._change = change
        self._recorded = False

    async def insert(self, row: Model) -> None:
        if self._recorded:
            await row.save(using_db=self.connection)
            return
        self._recorded = True
        principal, change, db = self._principal, self._change, self.connection
        postgres = db.capabilities.dialect == "postgres"
        values = _values(principal, change, change.fields, Decision.ALLOW, postgres)
        try:
            if postgres:
                await insert_after(db, row, _with_record, values)
            else:
                await insert_after_sqlite(db, row, _SQLITE, values)
        except IntegrityError:
            # The row's own constraint (an MRN in use, a version already revised): the caller
            # decides what that means. Nothing of the statement was written.
            raise
        except Exception as exc:
            # The record and the row go together: neither was written, or the transaction
            # rolls both back.
            raise _failed(exc) from None

    async def finish(self) -> None:
        """A work that added no row: its record, before the transaction commits."""
        if not self._recorded:
            self._recorded = True
            await _record(
                self._principal, self._change, self._change.fields, Decision.ALLOW, self.connection
            )


class AuditedWrites:
    """`permissions.decisions.WriteLog`: how a request's writes are recorded."""

    async def refused(
        self, principal: Principal, change: Change, refused: Sequence[tuple[str, str]]
    ) -> None:
        await _record(principal, change, refused, Decision.DENY, None)

    async def commit(
        self, principal: Principal, change: Change, work: Callable[[Transaction], Awaitable[T]]
    ) -> T:
        async with contextlib.AsyncExitStack() as stack:
            try:
                connection = await stack.enter_async_context(in_transaction())
            except OperationalError as exc:
                # The write and its record cannot begin (on SQLite: another process held the
                # write lock past the busy timeout). Nothing is written.
                raise _failed(exc) from None
            transaction = Transaction(connection, principal, change)
            done = await work(transaction)
            await transaction.finish()
            return done
