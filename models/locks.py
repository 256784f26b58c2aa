"""One background worker at a time: a transaction-scoped advisory lock on PostgreSQL."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient


async def holds_lock(connection: BaseDBAsyncClient, key: int) -> bool:
    """Whether this transaction got lock `key` (never waits; released at its end). Always
    true on SQLite, where a transaction that writes serialises writers by itself."""
    if connection.capabilities.dialect != "postgres":
        return True
    rows = await connection.execute_query_dict("SELECT pg_try_advisory_xact_lock($1) AS ok", [key])
    return bool(rows[0]["ok"])
