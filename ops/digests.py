"""Per-table row counts and digests, over rows exactly as stored (ciphertext included).

A table's digest is the sum modulo 2^256 of the SHA-256 of each row's canonical form: it does not
depend on row order, so tables are read in one streaming pass without sorting. Both sides of a
comparison are read by the same driver (a backup is verified or restored into the same kind of
database), so the canonical form is the row's value tuple as that driver returns it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import asyncpg

Manifest = dict[str, dict[str, Any]]
"""table -> {"rows": count, "digest": hex}"""

_MODULUS = 1 << 256
SQLITE_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
PG_TABLES = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
MIGRATIONS_TABLE = "tortoise_migrations"


class Accumulator:
    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, row: Sequence[Any]) -> None:
        self.rows += 1
        digest = hashlib.sha256(repr(tuple(row)).encode()).digest()
        self._sum = (self._sum + int.from_bytes(digest, "big")) % _MODULUS

    def result(self) -> dict[str, Any]:
        return {"rows": self.rows, "digest": f"{self._sum:064x}"}


def _digest(rows: Iterable[Sequence[Any]]) -> dict[str, Any]:
    total = Accumulator()
    for row in rows:
        total.add(row)
    return total.result()


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sqlite_manifest(path: Path) -> Manifest:
    connection = sqlite3.connect(path)
    try:
        tables = sorted(name for (name,) in connection.execute(SQLITE_TABLES))
        return {
            table: _digest(connection.execute(f"SELECT * FROM {quote(table)}"))  # noqa: S608
            for table in tables
        }
    finally:
        connection.close()


async def pg_manifest(connection: asyncpg.Connection) -> Manifest:
    """Call inside a transaction (a cursor needs one; a snapshot makes it consistent)."""
    manifest: Manifest = {}
    for record in await connection.fetch(PG_TABLES):
        table = record["tablename"]
        total = Accumulator()
        async for row in connection.cursor(f"SELECT * FROM {quote(table)}"):  # noqa: S608
            total.add(tuple(row))
        manifest[table] = total.result()
    return manifest


def differences(expected: Manifest, actual: Manifest) -> list[str]:
    """Table names whose count or digest differ (values are never part of the message)."""
    return sorted(t for t in expected.keys() | actual.keys() if expected.get(t) != actual.get(t))
