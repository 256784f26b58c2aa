"""Running `phigate` as its own process against a test database, from async tests, and holding
that database still while it runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from api.settings import KeyCustody, Settings
from ops.sqlite import sqlite_path


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli_env(settings: Settings, master_key: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "PHIGATE_ENV": "production",
        "PHIGATE_DATABASE_URL": settings.database_url,
        "PHIGATE_MASTER_KEY": master_key or settings.master_key or "",
        "PHIGATE_DATA_DIR": str(settings.data_dir),
        **custody_env(settings.key_custody),
    }


def custody_env(custody: KeyCustody) -> dict[str, str]:
    """The environment that configures `custody` (the key provider and its settings)."""
    env = {"PHIGATE_KEY_PROVIDER": custody.kind.value}
    if custody.pkcs11 is not None:
        env |= {
            "PHIGATE_PKCS11_MODULE": custody.pkcs11.module,
            "PHIGATE_PKCS11_TOKEN_LABEL": custody.pkcs11.token_label,
            "PHIGATE_PKCS11_KEY_LABEL": custody.pkcs11.key_label,
            "PHIGATE_PKCS11_PIN": custody.pkcs11.pin,
        }
    if custody.kms is not None:
        env |= {
            "PHIGATE_KMS_KEY_ID": custody.kms.key_id,
            "PHIGATE_KMS_REGION": custody.kms.region,
            "PHIGATE_KMS_ENDPOINT_URL": custody.kms.endpoint_url or "",
        }
    return env


async def phigate(settings: Settings, *args: str, master_key: str | None = None) -> Run:
    """The event loop keeps serving the in-process app while the command runs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        env=cli_env(settings, master_key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def outside_sqlite(database_url: str) -> sqlite3.Connection:
    """Another session on the app's SQLite file. Take its write lock in a thread
    (`asyncio.to_thread`): waiting for it on the event loop would stop the app, in this process,
    from finishing a transaction that holds it, and the wait would last the busy timeout."""
    return sqlite3.connect(sqlite_path(database_url), isolation_level=None, check_same_thread=False)


@contextlib.asynccontextmanager
async def audit_locked(database_url: str) -> AsyncIterator[None]:
    """Another session holds the audit table (PostgreSQL) or the whole file (SQLite) for
    writing, and does not let go."""
    if database_url.startswith("sqlite"):
        outside = outside_sqlite(database_url)
        await asyncio.to_thread(outside.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            outside.execute("ROLLBACK")
            outside.close()
        return
    admin = await asyncpg.connect(database_url)
    try:
        async with admin.transaction():
            await admin.execute("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await admin.close()
