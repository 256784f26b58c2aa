"""Another process writing at the same time (a second worker, `phigate keys rotate`, a
backup's restore check) does not fail a write that started reading first: it waits its turn.

On SQLite a transaction that reads and then writes cannot take the write lock once another
connection has committed since its read: "database is locked" at once, whatever the busy
timeout. A registration reads (is the MRN taken?) before it inserts."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx

from models import Patient
from tests.ops import sqlite_path
from tests.test_writes import NEW, register
from tests.world import World

RENAME = "UPDATE organization SET name = 'Test Hospital (renamed)'"


@contextlib.asynccontextmanager
async def outside_writer(database_url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Another session in the middle of a write; what it yields commits that write."""
    if database_url.startswith("sqlite"):
        outside = sqlite3.connect(sqlite_path(database_url), isolation_level=None)
        outside.execute("BEGIN IMMEDIATE")
        outside.execute(RENAME)

        async def commit() -> None:
            outside.execute("COMMIT")

        try:
            yield commit
        finally:
            outside.close()
        return
    connection = await asyncpg.connect(database_url)
    transaction = connection.transaction()
    await transaction.start()
    await connection.execute(RENAME)
    try:
        yield transaction.commit
    finally:
        await connection.close()


async def test_a_registration_waits_for_another_writer_and_succeeds(
    client: httpx.AsyncClient, world: World, database_url: str
) -> None:
    async with outside_writer(database_url) as commit:
        registering = asyncio.create_task(register(client, NEW, as_user="desk"))
        # Long enough for the registration to be waiting on the other writer's lock.
        await asyncio.sleep(0.5)
        await commit()
        response = await registering
    body = response.json()
    assert "errors" not in body, body
    assert body["data"]["registerPatient"]["mrn"] == NEW["mrn"]
    assert await Patient.all().count() == len(world.patients) + 1
