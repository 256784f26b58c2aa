"""Database wiring: Tortoise configuration and migrations (never `generate_schemas`)."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as run_migrations

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


def _connection(database_url: str) -> str | dict[str, Any]:
    if database_url.startswith(("postgres://", "asyncpg://")):
        connection = expand_db_url(database_url)
        connection["credentials"]["reset"] = _keep_session
        return connection
    if database_url.startswith("sqlite://") and "journal_size_limit" not in database_url:
        connection = expand_db_url(database_url)
        connection["credentials"]["journal_size_limit"] = WAL_KEPT_BYTES
        return connection
    return database_url


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(database_url)},
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


async def migrate(database_url: str) -> None:
    """Apply pending migrations. Safe to run repeatedly and from several processes in turn."""
    await run_migrations(config=tortoise_config(database_url))
    await Tortoise.close_connections()


async def connect(database_url: str) -> None:
    # uvicorn runs the lifespan in its own task; request tasks reach the ORM through the
    # global fallback rather than the lifespan task's context variable.
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def disconnect() -> None:
    await Tortoise.close_connections()


# For Tortoise's own CLI when writing a migration after a model change:
#   tortoise -c api.db.TORTOISE_ORM makemigrations
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
