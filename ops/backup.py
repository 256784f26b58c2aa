"""Encrypted backups: create, verify (restore into a scratch database and compare), restore.

Dumps are taken with each database's own consistent-copy tool (SQLite's online backup API,
`pg_dump` of an exported snapshot) and are encrypted on top of the ciphertext the database
already holds. Unencrypted copies only ever exist as 0600 files in a private (0700) work
folder beside the database, removed when the command ends or, after a crash, when the next
one starts (ops/workdir.py).

An archive is written to `<file>.partial`, locked while it is written, and linked to its name
once complete. A `.partial` nobody holds is what a killed backup left: the next one removes it.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import asyncpg

from audit.events import OpsEvent
from crypto.provider import KeyProvider
from models.keys import DataKey
from models.keystore import load_keyring
from ops import pg, sqlite
from ops.archive import ArchiveReader, ArchiveWriter, Header
from ops.audit import record_operation
from ops.deployment import Deployment
from ops.digests import Manifest, differences, pg_manifest, sqlite_manifest
from ops.workdir import work_folder
from permissions.roles import Purpose

COPY_BYTES = 1 << 20


class BackupError(Exception):
    """A backup operation was refused or its result does not match. Fixed messages, no data."""


@dataclass(frozen=True, slots=True)
class Summary:
    backup_id: str
    database: str
    created: str
    tables: int
    rows: int

    @classmethod
    def of(cls, header: Header, tables: Manifest) -> Summary:
        return cls(
            backup_id=header.backup_id,
            database=header.database,
            created=str(header.fields.get("created")),
            tables=len(tables),
            rows=sum(int(t["rows"]) for t in tables.values()),
        )

    def describe(self) -> str:
        return (
            f"backup {self.backup_id} ({self.database}, created {self.created}): "
            f"{self.tables} tables, {self.rows} rows"
        )


def _kind(settings: Deployment) -> str:
    return "sqlite" if sqlite.is_sqlite(settings.database_url) else "postgres"


def _private_file(path: Path) -> Path:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return path


async def _audited(settings: Deployment, event: OpsEvent, detail: str, operation: str) -> None:
    async with settings.connected():
        await record_operation(event, detail, operation=operation, purpose=Purpose.OPERATIONS)


# --- create ---------------------------------------------------------------------------------


async def create_backup(
    settings: Deployment, provider: KeyProvider, output: Path, operation: str
) -> Summary:
    fd, partial = new_archive(output)
    try:
        with os.fdopen(fd, "wb") as out:
            writer = await _start_archive(settings, provider, out, operation)
            if _kind(settings) == "sqlite":
                tables = _dump_sqlite(settings, writer)
            else:
                tables = await _dump_postgres(settings, writer)
            writer.finish({"tables": tables})
            out.flush()
            # Appears complete or not at all, and never replaces an existing archive; done
            # while the lock is held, so no other backup takes the file for abandoned.
            os.link(partial, output)
            partial.unlink()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Summary.of(writer.header, tables)


def new_archive(output: Path) -> tuple[int, Path]:
    """Open `<output>.partial` for writing, locked; refuse early if the archive already exists
    or another backup is writing it."""
    if output.exists():
        raise FileExistsError(output)
    partial = output.with_name(output.name + ".partial")
    _remove_if_abandoned(partial)
    try:
        # O_EXCL: never overwrite a file (or follow a planted link); 0600: owner only.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise BackupError(f"another backup is writing {partial}") from None
    # Held until the process ends: how the next backup tells a running one from a dead one.
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, partial


def _remove_if_abandoned(partial: Path) -> None:
    try:
        fd = os.open(partial, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    except OSError:
        raise BackupError(f"{partial} is not a file this command wrote; remove it") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BackupError(f"another backup is writing {partial}") from None
    else:
        partial.unlink()  # a killed backup's leftover: its process no longer holds it
    finally:
        os.close(fd)


async def _start_archive(
    settings: Deployment, provider: KeyProvider, out: BinaryIO, operation: str
) -> ArchiveWriter:
    """Prove the master key, write the header, and audit the backup before taking it."""
    async with settings.connected():
        await load_keyring(provider)
        versions: dict[str, list[int]] = {}
        for key in await DataKey.all().order_by("version"):
            versions.setdefault(key.purpose.value, []).append(key.version)
        header = {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": _kind(settings),
            "dump": "sqlite3" if _kind(settings) == "sqlite" else "pg_dump-custom",
            "data_key_versions": versions,
        }
        writer = ArchiveWriter(out, provider, header)
        await record_operation(
            OpsEvent.BACKUP_CREATED,
            f"backup {writer.header.backup_id}",
            operation=operation,
            purpose=Purpose.OPERATIONS,
        )
        return writer


def _dump_sqlite(settings: Deployment, writer: ArchiveWriter) -> Manifest:
    with work_folder(settings.data_dir) as folder:
        snapshot = _private_file(folder / "snapshot.sqlite3")
        sqlite.copy(sqlite.sqlite_path(settings.database_url), snapshot)
        sqlite.make_self_contained(snapshot)
        tables = sqlite_manifest(snapshot)
        with snapshot.open("rb") as source:
            while chunk := source.read(COPY_BYTES):
                writer.write(chunk)
    return tables


async def _dump_postgres(settings: Deployment, writer: ArchiveWriter) -> Manifest:
    database = pg.PgDatabase.from_url(settings.database_url)
    tables: Manifest = {}

    async def dump_and_digest(connection: asyncpg.Connection, snapshot: str) -> None:
        await pg.dump(database, settings.pg_bin, snapshot, writer.write)
        tables.update(await pg_manifest(connection))

    await pg.in_snapshot(database, dump_and_digest)
    return tables


# --- verify and restore ---------------------------------------------------------------------


def _decrypt(archive: Path, provider: KeyProvider, target: Path) -> tuple[Header, Manifest]:
    """Decrypt the whole archive to `target`, authenticating every chunk and the manifest."""
    with archive.open("rb") as source, target.open("wb") as out:
        reader = ArchiveReader(source, provider)
        for chunk in reader.chunks():
            out.write(chunk)
    tables: Manifest = reader.manifest["tables"]
    return reader.header, tables


def _opened(
    settings: Deployment, archive: Path, provider: KeyProvider, folder: Path
) -> tuple[Header, Manifest, Path]:
    dump = _private_file(folder / "dump")
    header, tables = _decrypt(archive, provider, dump)
    if header.database != _kind(settings):
        raise BackupError(
            f"this is a {header.database} backup; the configured database is {_kind(settings)}"
        )
    return header, tables, dump


def _compare(expected: Manifest, actual: Manifest) -> None:
    changed = differences(expected, actual)
    if changed:
        raise BackupError("restored rows do not match the manifest in: " + ", ".join(changed))


async def _restored_postgres_manifest(database: pg.PgDatabase) -> Manifest:
    connection = await database.connect()
    try:
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            return await pg_manifest(connection)
    finally:
        await connection.close()


async def verify_backup(
    settings: Deployment, provider: KeyProvider, archive: Path, operation: str
) -> Summary:
    try:
        summary = await _verify(settings, provider, archive)
    except Exception as exc:
        # The failure is audited too; its fixed message names no data.
        detail = f"{archive.name}: failed ({type(exc).__name__})"
        await _audited(settings, OpsEvent.BACKUP_VERIFIED, detail, operation)
        raise
    detail = f"backup {summary.backup_id}: ok, {summary.tables} tables, {summary.rows} rows"
    await _audited(settings, OpsEvent.BACKUP_VERIFIED, detail, operation)
    return summary


async def _verify(settings: Deployment, provider: KeyProvider, archive: Path) -> Summary:
    with work_folder(settings.data_dir) as folder:
        header, tables, dump = _opened(settings, archive, provider, folder)
        if header.database == "sqlite":
            # The decrypted file is the scratch database.
            if not sqlite.integrity_ok(dump):
                raise BackupError("the restored SQLite database fails its integrity check")
            _compare(tables, sqlite_manifest(dump))
        else:
            database = pg.PgDatabase.from_url(settings.database_url)
            async with pg.scratch_database(database) as scratch:
                await pg.restore(scratch, settings.pg_bin, dump, clean=False)
                _compare(tables, await _restored_postgres_manifest(scratch))
    return Summary.of(header, tables)


async def restore_backup(
    settings: Deployment, provider: KeyProvider, archive: Path, operation: str, force: bool
) -> Summary:
    with work_folder(settings.data_dir) as folder:
        header, tables, dump = _opened(settings, archive, provider, folder)
        if header.database == "sqlite":
            target = sqlite.sqlite_path(settings.database_url)
            _refuse_if_holding_data(sqlite.holds_data(target), force)
            # Checked before the target is touched: a dump that does not match is not restored.
            _compare(tables, sqlite_manifest(dump))
            if not target.exists():
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                _private_file(target)
            sqlite.copy(dump, target)
            _compare(tables, sqlite_manifest(target))
        else:
            database = pg.PgDatabase.from_url(settings.database_url)
            _refuse_if_holding_data(await pg.holds_data(database), force)
            await pg.restore(database, settings.pg_bin, dump, clean=True)
            _compare(tables, await _restored_postgres_manifest(database))
    summary = Summary.of(header, tables)
    detail = f"backup {summary.backup_id}: {summary.tables} tables, {summary.rows} rows"
    await _audited(settings, OpsEvent.BACKUP_RESTORED, detail, operation)
    return summary


def _refuse_if_holding_data(holds_data: bool, force: bool) -> None:
    if holds_data and not force:
        raise BackupError(
            "the configured database already holds data; restore replaces it only with --force"
        )
