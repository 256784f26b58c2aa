"""Database clients that never wait without a bound, and SQLite transactions that wait for
another process's write instead of failing on it.

Tortoise takes a pooled PostgreSQL connection with no timeout, and its SQLite client queues
every statement behind one lock, also with no timeout: with PostgreSQL frozen or the SQLite
file locked from outside, every request waited as long as the fault lasted. Each wait here has
its limit (api/db.py sets them from the settings); one that passes it raises `DatabaseTimeout`,
which the app answers as 503 like any other unavailable database.

Tortoise begins a SQLite transaction deferred (`BEGIN`): it reads first and takes the write lock
at its first write. If another process (a second worker, `phigate keys rotate`) committed in
between, SQLite cannot let it write on its older snapshot and fails it at once, "database is
locked", busy timeout or not: a registration (which reads whether the MRN is taken, then
inserts) failed as AUDIT_UNAVAILABLE. Here every transaction takes the write lock when it begins
(`BEGIN IMMEDIATE`), waiting for it as long as the busy timeout allows, as Rails and Django
(`transaction_mode`) do for SQLite. In one process nothing changes: its transactions already
take turns on its one connection. tests/test_concurrent_writers.py pins this.

Tortoise's transaction contexts take a connection (and the task's slot for it) before BEGIN and
keep them when BEGIN fails. Both contexts here give them back (tests/test_concurrent_writers.py,
tests/test_db_timeouts.py). These are Tortoise's internal classes, used in this module only.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Literal

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient, TransactionWrapper
from tortoise.backends.base.client import (
    TransactionalDBClient,
    TransactionContext,
    TransactionContextPooled,
)
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError

ACQUIRE_TIMEOUT = "acquire_timeout"
"""The credential naming the limit, in seconds; the clients take it out of what they pass on."""


class DatabaseTimeout(OperationalError):
    """No connection (or, on SQLite, no turn on the connection) within the limit."""


class _TimedPool(asyncpg.Pool):  # type: ignore[misc]
    """Every acquire has a limit; a release waits at most as long (asyncpg's default), so a
    connection whose query timed out on a frozen server is dropped, not waited for."""

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


class _ReleasingContext(TransactionContextPooled):
    """Tortoise's pooled context, except that a BEGIN that fails (a frozen server's timeout)
    gives back the connection and the task's connection slot it took before. Tortoise's keeps
    the slot: the task's every later transaction became a savepoint on a connection no longer
    its own, so a background loop (the audit sealer, the tally's drain) failed for good after
    one timeout."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self.ensure_connection()
        pool = self.client._parent._pool
        self.client._connection = await pool.acquire()
        self.token = get_connections().set(self.connection_name, self.client)
        try:
            await self.client.begin()
        except BaseException:
            get_connections().reset(self.token)
            await pool.release(self.client._connection)  # a no-op if already given back
            raise
        return self.client


class TimedAsyncpgClient(AsyncpgDBClient):
    def __init__(self, **kwargs: Any) -> None:
        self._acquire_timeout = float(kwargs.pop(ACQUIRE_TIMEOUT))
        super().__init__(**kwargs)

    def _in_transaction(self) -> TransactionContext:
        return _ReleasingContext(TransactionWrapper(self), self._pool_init_lock)

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        # asyncpg.create_pool's own defaults, with the pool class it has no parameter for.
        options = {
            "max_queries": 50_000,
            "max_inactive_connection_lifetime": 300.0,
            "record_class": asyncpg.Record,
            **kwargs,
        }
        try:
            return await _TimedPool(None, acquire_timeout=self._acquire_timeout, **options)
        except TimeoutError:
            raise DatabaseTimeout("no database connection within the limit") from None


class _TimedLock(asyncio.Lock):
    """An asyncio.Lock whose acquire gives up after `timeout` seconds."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    async def acquire(self) -> Literal[True]:
        try:
            async with asyncio.timeout(self._timeout):
                return await super().acquire()
        except TimeoutError:
            raise DatabaseTimeout("the database stayed busy past the limit") from None


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        connection = self._connection
        try:
            if connection.in_transaction:
                # Left open by a failure before: its work is not this transaction's to commit.
                await connection.rollback()
            await connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            # The busy timeout passed with another process still writing, or the file failed:
            # unavailable (503), as for any statement. The driver's message is not passed on.
            raise OperationalError("a transaction could not begin") from None


class _ImmediateContext(SqliteTransactionContext):
    """Tortoise's context, except that a BEGIN that fails gives back the connection's lock
    and slot it took before (tortoise's keeps both: every later statement would wait)."""

    async def __aenter__(self) -> SqliteTransactionWrapper:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        transaction: SqliteTransactionWrapper = self.connection
        return transaction


class ImmediateSqliteClient(SqliteClient):
    """SQLite whose transactions take the write lock when they begin."""

    def _in_transaction(self) -> TransactionContext:
        return _ImmediateContext(_ImmediateTransaction(self), self._lock)


class TimedSqliteClient(ImmediateSqliteClient):
    """One connection, one statement at a time (SQLite's way): while a statement waits for an
    outside writer (the busy timeout), every other request waits for its turn. Those waits end
    at the limit too, so all of them are answered, not only the one at the front."""

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        timeout = float(kwargs.pop(ACQUIRE_TIMEOUT))
        super().__init__(file_path, **kwargs)
        self._lock = _TimedLock(timeout)


def get_client_class(db_info: dict[str, Any]) -> type[Any]:
    """This module is a Tortoise engine too (`"engine": "api.db_clients"`, api/db.py): the
    serving app's clients have limits, the operations commands' SQLite client has none."""
    credentials = db_info["credentials"]
    if "file_path" not in credentials:
        return TimedAsyncpgClient
    return TimedSqliteClient if ACQUIRE_TIMEOUT in credentials else ImmediateSqliteClient
