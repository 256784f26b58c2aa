"""Database wiring: Tortoise configuration and migrations (never `generate_schemas`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as run_migrations

from api.db_clients import ACQUIRE_TIMEOUT
from crypto.migration_keys import MIGRATION_PROVIDER
from crypto.provider import KeyProvider
from ops.grants import grant_serving_role

APP = "phigate"


async def _keep_session(_: Any) -> None:
    """Pool release without asyncpg's default reset (`RESET ALL; UNLISTEN *; ...`): that is a
    round trip per query, as Tortoise takes a pooled connection per statement. phigate never
    changes session state (no SET, LISTEN, cursors or session advisory locks; the sealer's lock
    is transaction-scoped), and an open transaction is still rolled back by the pool itself."""


WAL_KEPT_BYTES = 64 * 1024 * 1024
"""SQLite's write-ahead log is cut back to this size after a checkpoint (Tortoise's default is
16 KiB). It checkpoints at about 4 MiB, so the log file is reused, not regrown after each
checkpoint: a commit that appends to a file without changing its size syncs only its data, and
a page's audit commit took 1.7 ms instead of 2.3 (bench/README.md)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the serving app waits on its database, in seconds (README: timeouts)."""

    statement: float
    """A statement runs (PostgreSQL `statement_timeout`, and on the client a little longer,
    for a server that does not answer at all), or waits for a lock (`lock_timeout`; SQLite's
    busy timeout)."""
    acquire: float
    """A pooled connection (or a new one), or on SQLite a turn on its one connection."""


_CLIENT_MARGIN = 1.0
"""The client gives up this much later than the server would: a statement the server cancels
gets the server's clear error, and the client's limit is for a server that cannot answer."""


def _postgres(database_url: str, timeouts: Timeouts | None) -> dict[str, Any]:
    connection = expand_db_url(database_url)
    credentials = connection["credentials"]
    credentials["reset"] = _keep_session
    if timeouts is not None:
        ms = str(int(timeouts.statement * 1000))
        credentials["server_settings"] = {
            **credentials.get("server_settings", {}),
            "statement_timeout": ms,
            "lock_timeout": ms,
            # A transaction left open by a stuck client does not hold its locks for ever.
            "idle_in_transaction_session_timeout": str(int(timeouts.statement * 4000)),
        }
        credentials["command_timeout"] = timeouts.statement + _CLIENT_MARGIN
        credentials["timeout"] = timeouts.acquire  # connecting
    return connection


def _sqlite(database_url: str, timeouts: Timeouts | None) -> dict[str, Any]:
    connection = expand_db_url(database_url)
    credentials = connection["credentials"]
    if "journal_size_limit" not in database_url:
        credentials["journal_size_limit"] = WAL_KEPT_BYTES
    if timeouts is not None:
        credentials["busy_timeout"] = int(timeouts.statement * 1000)  # a PRAGMA, in ms
    return connection


def _connection(database_url: str, timeouts: Timeouts | None) -> str | dict[str, Any]:
    if database_url.startswith(("postgres://", "asyncpg://")):
        connection = _postgres(database_url, timeouts)
    elif database_url.startswith("sqlite://"):
        connection = _sqlite(database_url, timeouts)
        # Every process on the file begins its transactions IMMEDIATE (api/db_clients.py).
        connection["engine"] = "api.db_clients"
    else:
        return database_url
    if timeouts is not None:
        connection["engine"] = "api.db_clients"
        connection["credentials"][ACQUIRE_TIMEOUT] = timeouts.acquire
    return connection


def tortoise_config(
    database_url: str, timeouts: Timeouts | None = None, *, migrating: bool = False
) -> dict[str, Any]:
    """`timeouts`: the serving app's bounds; without them (migrations, the operations
    commands) statements may run as long as they need. `migrating`: with Tortoise's own
    clients instead of api/db_clients.py's, as its migrations pick their schema editor by the
    client's module."""
    connection = _connection(database_url, timeouts)
    if migrating and isinstance(connection, dict):
        connection["engine"] = expand_db_url(database_url)["engine"]
    return {
        "connections": {"default": connection},
        "apps": {
            APP: {
                "models": ["models"],
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(
    database_url: str, serving_role: str | None = None, provider: KeyProvider | None = None
) -> None:
    """Apply pending migrations, then (PostgreSQL) give `serving_role` its grants
    (ops/grants.py). Safe to run repeatedly and from several processes in turn. `provider`:
    the key provider, for a migration that seals values stored in plaintext before it."""
    config = tortoise_config(database_url, migrating=True)
    token = MIGRATION_PROVIDER.set(provider)
    try:
        await run_migrations(config=config)
    finally:
        MIGRATION_PROVIDER.reset(token)
    if serving_role is not None and not database_url.startswith("sqlite"):
        await Tortoise.init(config=config)
        try:
            await grant_serving_role(connections.get("default"), serving_role)
        finally:
            await Tortoise.close_connections()
    await Tortoise.close_connections()


async def connect(database_url: str, timeouts: Timeouts | None = None) -> None:
    # uvicorn runs the lifespan in its own task; request tasks reach the ORM through the
    # global fallback rather than the lifespan task's context variable.
    await Tortoise.init(
        config=tortoise_config(database_url, timeouts), _enable_global_fallback=True
    )


async def disconnect() -> None:
    await Tortoise.close_connections()


@contextlib.asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[None]:
    """The ORM connected for a command's block, closed however the block ends."""
    await connect(database_url)
    try:
        yield
    finally:
        await disconnect()


# For Tortoise's own CLI when writing a migration after a model change:
#   tortoise -c api.db.TORTOISE_ORM makemigrations
TORTOISE_ORM = tortoise_config("sqlite://:memory:", migrating=True)
