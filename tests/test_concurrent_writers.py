"""Another process writing at the same time (a second worker, `phigate keys rotate`, a
backup's restore check) does not fail a write that started reading first: it waits its turn.

On SQLite a transaction that reads and then writes cannot take the write lock once another
connection has committed since its read: "database is locked" at once, whatever the busy
timeout. A registration reads (is the MRN taken?) before it inserts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import asyncpg
import httpx

from api.app import create_app
from api.settings import Settings
from models import AuditEvent, Patient
from tests.conftest import https_client, running
from tests.helpers import TestAuthenticator
from tests.ops import audit_locked, outside_sqlite
from tests.test_writes import NEW, codes, register
from tests.world import World, build_world

RENAME = "UPDATE organization SET name = 'Test Hospital (renamed)'"


@contextlib.asynccontextmanager
async def outside_writer(database_url: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Another session in the middle of a write; what it yields commits that write."""
    if database_url.startswith("sqlite"):
        outside = outside_sqlite(database_url)
        await asyncio.to_thread(outside.execute, "BEGIN IMMEDIATE")
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


async def test_a_write_that_cannot_get_the_lock_is_refused_whole(
    settings: Settings, database_url: str
) -> None:
    """Held past the limit (SQLite: the busy timeout; PostgreSQL: the lock timeout on the
    audit table), the write is AUDIT_UNAVAILABLE and leaves nothing behind."""
    limit = timedelta(seconds=1)
    short = replace(settings, db_statement_timeout=limit, db_acquire_timeout=limit)
    app = create_app(short, authenticate=TestAuthenticator())
    async with running(app), https_client(app) as http:
        world = await build_world(app.state.keyring)
        async with audit_locked(database_url):
            response = await register(http, NEW, as_user="desk")
        assert codes(response) == ["AUDIT_UNAVAILABLE"]
        assert NEW["ssn"] not in response.text
        assert await Patient.all().count() == len(world.patients)
        assert not await AuditEvent.filter(event="CREATE").exists()
        # The failed write gave its connection back: the next one, unlocked, goes through.
        again = await register(http, NEW, as_user="desk")
        assert codes(again) == []
