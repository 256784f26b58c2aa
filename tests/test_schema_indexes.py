"""A migrated database holds every index the models declare, on both databases.

Tortoise's SQLite schema editor rebuilds a table to drop or alter a column and does not carry
the table's indexes over: migration 0005 left `audit_event` without the indexes the auditors'
queries and a patient's accounting of disclosures read by, and 0008 left `data_key` without
its unique (purpose, version). Migration 0026 puts them back; this keeps any later rebuild
from losing one unnoticed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as run_migrations

from api import db
from tests.pgcluster import database_from_template, drop_database
from tests.schema_checks import missing_indexes


async def _missing(database_url: str) -> list[str]:
    await Tortoise.init(config=db.tortoise_config(database_url, migrating=True))
    try:
        return await missing_indexes(connections.get("default"))
    finally:
        await Tortoise.close_connections()


async def test_a_migrated_database_has_every_declared_index(database_url: str) -> None:
    assert await _missing(database_url) == []


async def test_an_index_dropped_behind_the_models_back_is_found(database_url: str) -> None:
    await Tortoise.init(config=db.tortoise_config(database_url, migrating=True))
    try:
        connection = connections.get("default")
        await connection.execute_script('DROP INDEX "idx_audit_event_actor_aab670"')
        assert await missing_indexes(connection) == ["index audit_event (actor, at)"]
    finally:
        await Tortoise.close_connections()


@pytest.fixture
async def empty_url(
    database_url: str, pg_admin_url: str | None, tmp_path: Path
) -> AsyncIterator[str]:
    """An empty database of `database_url`'s backend: no migration applied."""
    if pg_admin_url is None or "sqlite" in database_url:
        yield f"sqlite://{tmp_path / 'empty.sqlite3'}"
        return
    url = await database_from_template(pg_admin_url, "template0")
    yield url
    await drop_database(pg_admin_url, url)


async def test_migration_0026_restores_what_the_rebuilds_lost(empty_url: str) -> None:
    config = db.tortoise_config(empty_url, migrating=True)
    await run_migrations(config=config, target="phigate.0025_idempotency_fingerprint")
    lost = await _missing(empty_url)
    if "sqlite" in empty_url:
        assert lost == [
            "index audit_event (actor, at)",
            "index audit_event (patient, at)",
            "unique index data_key (purpose, version)",
        ]
    else:
        assert lost == []
    await db.migrate(empty_url)
    assert await _missing(empty_url) == []
