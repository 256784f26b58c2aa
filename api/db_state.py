"""What the database's state says about serving: migrations not yet applied, and pool use."""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass

from tortoise import connections

import migrations
from api.db import APP
from ops.digests import MIGRATIONS_TABLE

_APPLIED = f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = '{APP}'"  # noqa: S608


def shipped_migrations() -> frozenset[str]:
    """The migrations this code ships (Tortoise's own rule: modules not starting with _ or ~)."""
    return frozenset(
        name
        for _, name, is_package in pkgutil.iter_modules(migrations.__path__)
        if not is_package and name[0] not in "_~"
    )


async def pending_migrations(shipped: frozenset[str]) -> frozenset[str]:
    """Shipped migrations the database has not applied. Applied ones this code does not know
    are fine: a newer release migrated first, compatibly, while this one still serves."""
    _, rows = await connections.get("default").execute_query(_APPLIED)
    return shipped - {row["name"] for row in rows}


@dataclass(frozen=True, slots=True)
class PoolUse:
    in_use: int
    idle: int
    max: int


def pool_use() -> PoolUse | None:
    """PostgreSQL's connection pool now; None on SQLite (one connection, no pool)."""
    pool = getattr(connections.get("default"), "_pool", None)
    if pool is None:
        return None
    size, idle = pool.get_size(), pool.get_idle_size()
    return PoolUse(size - idle, idle, pool.get_max_size())
