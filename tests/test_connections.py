"""Connection settings the request path relies on, checked on the live connection."""

from __future__ import annotations

import asyncio
import sqlite3

import httpx
import pytest
from tortoise import connections
from tortoise.transactions import in_transaction

from api.db import WAL_KEPT_BYTES
from tests.helpers import gql
from tests.ops import outside_sqlite
from tests.test_audit_statements import QUERY, statements
from tests.world import World


async def test_connections_are_set_up_for_the_request_path(
    client: httpx.AsyncClient, world: World, database_url: str
) -> None:
    conn = connections.get("default")
    async with statements("RESET ALL") as resets:
        response = await gql(client, QUERY, {"id": world.patients["own"]}, as_user="doc")
    assert "errors" not in response.json()
    if conn.capabilities.dialect == "postgres":
        # A pooled connection goes back without asyncpg's reset round trip (api/db.py).
        assert resets() == 0
        return
    # SQLite keeps its write-ahead log allocated between checkpoints (api/db.py).
    rows = await conn.execute_query_dict("PRAGMA journal_size_limit")
    assert rows[0]["journal_size_limit"] == WAL_KEPT_BYTES
    assert (await conn.execute_query_dict("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    # A transaction holds SQLite's write lock from its first statement on: another process
    # cannot start writing meanwhile (api/db_clients.py, tests/test_concurrent_writers.py).
    outside = outside_sqlite(database_url)
    try:
        async with in_transaction():
            outside.execute("PRAGMA busy_timeout = 0")  # held by us: fail at once, not wait
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                outside.execute("BEGIN IMMEDIATE")
        outside.execute("PRAGMA busy_timeout = 5000")
        await asyncio.to_thread(outside.execute, "BEGIN IMMEDIATE")
        outside.execute("ROLLBACK")
    finally:
        outside.close()
