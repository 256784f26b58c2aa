"""Data key rotation: a new version is primary at once; old values are re-encrypted in batches.

The rule that keeps reads working on every worker: a new version is inserted first, then
re-encryption waits `grace` (longer than the workers' keyring refresh interval, see
api/key_refresh.py) before it rewrites any row. Until then no stored value uses the new version
except those written by workers that already know it.

Re-encryption walks each table by primary key, one transaction per batch. Each row is rewritten
only if its sealed columns still hold what was read (`UPDATE ... WHERE id = ? AND col = old`),
so a value changed concurrently is never clobbered. It selects only values whose stored key
version differs from the primary, so running it again continues where it stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from audit.events import OpsEvent
from crypto.errors import CryptoError
from crypto.keyring import Keyring, version_bytes
from crypto.provider import KeyProvider
from crypto.sealed import Sealed, binding_for
from models.keys import DataKey, KeyPurpose
from models.keystore import create_data_key, next_data_key_version
from ops.audit import record_operation
from ops.sealed_tables import SealedTable, sealed_tables
from ops.sql import Statement, default_connection, is_postgres, quote

ProgressHook = Callable[[int], None]


@dataclass(slots=True)
class Outcome:
    version: int
    reencrypted: int = 0
    conflicts: int = 0
    """Rows changed by someone else between read and write: left as they are."""
    unreadable: int = 0
    """Values that failed to open (damaged, or their key is gone): left as they are."""
    batches: int = 0
    remaining: int = 0
    stopped: bool = False
    """Stopped by `max_batches` before the end."""

    def describe(self) -> str:
        return (
            f"data key v{self.version}: {self.reencrypted} values re-encrypted in "
            f"{self.batches} batches, {self.conflicts} rows changed concurrently, "
            f"{self.unreadable} unreadable, {self.remaining} remaining on older versions"
        )


async def rotate(provider: KeyProvider, operation: str) -> DataKey:
    """Insert the next data key version, primary at once. Audited in the same transaction."""
    version = await next_data_key_version()
    async with in_transaction():
        key = await create_data_key(provider, version)
        await record_operation(
            OpsEvent.KEY_ROTATED, f"data key v{key.version} created", operation=operation
        )
    return key


async def primary_key() -> DataKey:
    key = await DataKey.filter(purpose=KeyPurpose.DATA).order_by("-version").first()
    if key is None:
        raise LookupError("no data key")
    return key


async def wait_for_workers(key: DataKey, grace: timedelta) -> float:
    """Sleep until `grace` has passed since `key` was created; returns the seconds slept."""
    remaining = (key.created_at + grace - datetime.now(UTC)).total_seconds()
    if remaining > 0:
        await asyncio.sleep(remaining)
    return max(remaining, 0.0)


def _stale(table: SealedTable, stmt: Statement, primary: int) -> str:
    """A condition true for rows with any sealed value not under the primary version."""
    return " OR ".join(
        f"({quote(c.column)} IS NOT NULL AND {stmt.version_of(c.column)} <> "
        f"{stmt.bind(version_bytes(primary))})"
        for c in table.columns
    )


async def count_stale(primary: int) -> int:
    connection = default_connection()
    total = 0
    for table in sealed_tables():
        stmt = Statement(is_postgres(connection))
        where = _stale(table, stmt, primary)
        sql = f"SELECT count(*) AS n FROM {quote(table.table)} WHERE {where}"  # noqa: S608
        rows = await connection.execute_query_dict(sql, stmt.values)
        total += int(rows[0]["n"])
    return total


async def _next_batch(
    table: SealedTable, primary: int, after: int, size: int
) -> list[dict[str, Any]]:
    connection = default_connection()
    stmt = Statement(is_postgres(connection))
    columns = ", ".join(quote(c.column) for c in table.columns)
    sql = (
        f"SELECT id, public_id, {columns} FROM {quote(table.table)} "  # noqa: S608
        f"WHERE id > {stmt.bind(after)} AND ({_stale(table, stmt, primary)}) "
        f"ORDER BY id LIMIT {stmt.bind(size)}"
    )
    return list(await connection.execute_query_dict(sql, stmt.values))


def _reseal(
    table: SealedTable, row: dict[str, Any], keyring: Keyring
) -> dict[str, tuple[bytes, bytes]] | None:
    """column -> (stored blob, new blob) for values on older versions; None if one fails."""
    changes = {}
    for column in table.columns:
        stored = row[column.column]
        if stored is None:
            continue
        blob = bytes(stored)
        if Keyring.version_of(blob) == keyring.primary:
            continue
        binding = binding_for(column.binding, row["public_id"])
        try:
            plaintext = keyring.open(Sealed(blob, binding))
        except CryptoError:
            return None
        changes[column.column] = (blob, keyring.seal(plaintext, binding).blob)
    return changes


async def _write_batch(
    table: SealedTable, rows: list[dict[str, Any]], keyring: Keyring, outcome: Outcome
) -> None:
    async with in_transaction() as connection:
        for row in rows:
            changes = _reseal(table, row, keyring)
            if changes is None:
                outcome.unreadable += 1
                continue
            # Placeholders are bound in the order they appear (SQLite's are positional).
            stmt = Statement(is_postgres(connection))
            assignments = ", ".join(
                f"{quote(c)} = {stmt.bind(new)}" for c, (_, new) in changes.items()
            )
            row_id = stmt.bind(row["id"])
            checks = "".join(
                f" AND {quote(c)} = {stmt.bind(old)}" for c, (old, _) in changes.items()
            )
            sql = f"UPDATE {quote(table.table)} SET {assignments} WHERE id = {row_id}{checks}"  # noqa: S608
            updated, _ = await connection.execute_query(sql, stmt.values)
            if updated:
                outcome.reencrypted += len(changes)
            else:
                outcome.conflicts += 1


async def reencrypt(
    keyring: Keyring,
    operation: str,
    *,
    batch_size: int = 500,
    max_batches: int | None = None,
    progress: ProgressHook | None = None,
) -> Outcome:
    """Re-encrypt every sealed value not under `keyring.primary`, then record what was done."""
    outcome = Outcome(version=keyring.primary)
    for table in sealed_tables():
        after = 0
        while not outcome.stopped:
            if max_batches is not None and outcome.batches >= max_batches:
                outcome.stopped = True
                break
            rows = await _next_batch(table, keyring.primary, after, batch_size)
            if not rows:
                break
            await _write_batch(table, rows, keyring, outcome)
            outcome.batches += 1
            after = int(rows[-1]["id"])
            if progress is not None:
                progress(len(rows))
    outcome.remaining = await count_stale(keyring.primary)
    await record_operation(OpsEvent.KEY_REENCRYPTED, outcome.describe(), operation=operation)
    return outcome
