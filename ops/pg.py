"""PostgreSQL side of backups: pg_dump / pg_restore, scratch databases, emptiness checks.

Connection details come from PHIGATE_DATABASE_URL; the password reaches the tools through the
PGPASSWORD environment variable, never their command line (visible to every local user).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

import asyncpg

from ops.digests import MIGRATIONS_TABLE, PG_TABLES, quote

BIN_DIRS = tuple(f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15))
READ_BYTES = 1 << 20


class ToolError(Exception):
    """A PostgreSQL tool is missing or failed. The message names the tool, not its output (it
    can quote the connection or data)."""


@dataclass(frozen=True, slots=True)
class PgDatabase:
    host: str
    port: int
    user: str
    password: str | None
    database: str

    @classmethod
    def from_url(cls, url: str) -> PgDatabase:
        parts = urlsplit(url)
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or ""),
            password=unquote(parts.password) if parts.password else None,
            database=unquote(parts.path.lstrip("/")),
        )

    def named(self, database: str) -> PgDatabase:
        return replace(self, database=database)

    def tool_args(self) -> list[str]:
        return ["-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.database]

    def tool_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
        )


def tool(name: str, bin_dir: Path | None) -> str:
    for folder in (str(bin_dir) if bin_dir else None, *BIN_DIRS):
        if folder and (Path(folder) / name).exists():
            return str(Path(folder) / name)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found (set PHIGATE_PG_BIN)")
    return found


async def dump(
    db: PgDatabase, bin_dir: Path | None, snapshot: str, write: Callable[[bytes], None]
) -> None:
    """`pg_dump -Fc` of the snapshot exported by an open transaction, streamed to `write`."""
    process = await asyncio.create_subprocess_exec(
        tool("pg_dump", bin_dir),
        "-Fc",
        f"--snapshot={snapshot}",
        *db.tool_args(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=db.tool_env(),
    )
    assert process.stdout is not None
    while chunk := await process.stdout.read(READ_BYTES):
        write(chunk)
    if await process.wait() != 0:
        raise ToolError("pg_dump failed")


# What a clean restore removes first, in the restore's own transaction. Not `pg_restore
# --clean`: it drops a partitioned table's partition constraints before the table's own, which
# PostgreSQL refuses (audit_event is partitioned by month, migrations/0019).
_EMPTY_PUBLIC_SCHEMA = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT c.oid::regclass AS name FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    LOOP
        EXECUTE format('DROP TABLE IF EXISTS %s CASCADE', item.name);
    END LOOP;
    FOR item IN SELECT c.oid::regclass AS name FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'S'
    LOOP
        EXECUTE format('DROP SEQUENCE IF EXISTS %s CASCADE', item.name);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS name FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
    LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.name);
    END LOOP;
END $$;
"""


async def _run(*command: str, env: dict[str, str], failure: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env
    )
    if await process.wait() != 0:
        raise ToolError(failure)


async def restore(db: PgDatabase, bin_dir: Path | None, dump_file: Path, clean: bool) -> None:
    """Restore in one transaction: a failure leaves the target as it was. `clean` empties the
    public schema first, in that same transaction."""
    options = ("--no-owner", "--no-privileges")
    env = db.tool_env()
    if not clean:
        await _run(
            tool("pg_restore", bin_dir), *options, "--single-transaction", "--exit-on-error",
            *db.tool_args(), str(dump_file), env=env, failure="pg_restore failed",
        )  # fmt: skip
        return
    script = dump_file.with_suffix(".sql")
    empty = dump_file.with_suffix(".empty.sql")
    empty.write_text(_EMPTY_PUBLIC_SCHEMA)
    try:
        await _run(
            tool("pg_restore", bin_dir), *options, "--file", str(script), str(dump_file),
            env=env, failure="pg_restore failed",
        )  # fmt: skip
        await _run(
            tool("psql", bin_dir), "--no-psqlrc", "--quiet", "--single-transaction",
            "--set", "ON_ERROR_STOP=1", *db.tool_args(), "--file", str(empty),
            "--file", str(script), env=env, failure="pg_restore failed",
        )  # fmt: skip
    finally:
        script.unlink(missing_ok=True)
        empty.unlink(missing_ok=True)


@asynccontextmanager
async def scratch_database(db: PgDatabase) -> AsyncIterator[PgDatabase]:
    """A temporary database on the same server (needs CREATEDB), dropped afterwards."""
    name = f"phigate_verify_{secrets.token_hex(6)}"
    admin = await db.connect()
    try:
        await admin.execute(f"CREATE DATABASE {quote(name)}")
        try:
            yield db.named(name)
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")
    finally:
        await admin.close()


async def holds_data(db: PgDatabase) -> bool:
    """Whether any table other than the migration records has a row."""
    connection = await db.connect()
    try:
        for record in await connection.fetch(PG_TABLES):
            table = record["tablename"]
            if table != MIGRATIONS_TABLE and await connection.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {quote(table)})"  # noqa: S608
            ):
                return True
        return False
    finally:
        await connection.close()


async def in_snapshot(
    db: PgDatabase, work: Callable[[asyncpg.Connection, str], Awaitable[None]]
) -> None:
    """Run `work(connection, snapshot id)` in a read-only repeatable-read transaction whose
    snapshot pg_dump can share: the dump and the manifest see the same rows."""
    connection = await db.connect()
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            snapshot = await connection.fetchval("SELECT pg_export_snapshot()")
            await work(connection, snapshot)
    finally:
        await connection.close()
