"""Several SQLite statements in one trip to aiosqlite's thread.

aiosqlite runs each call in its own thread and comes back through the event loop: one trip a
statement, each waiting for the loop to get round to it. `in_thread` runs a function on the
sqlite3 connection there instead, holding tortoise's connection lock, as each of aiosqlite's
public calls does (its `_execute`, the one use of that private method;
tests/test_audit_statements.py drives the same method to trace statements, so a change to it
fails there first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

T = TypeVar("T")


async def in_thread(connection: BaseDBAsyncClient, work: Callable[..., T], *args: Any) -> T:
    """`work(sqlite3_connection, *args)`, run in the connection's thread."""
    async with connection.acquire_connection() as db:
        result: T = await db._execute(work, db._conn, *args)
        return result
