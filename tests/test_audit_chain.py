"""The audit trail is append-only and tamper-evident: the database refuses edits, and when an
attacker switches that off, `audit verify` names the first changed, removed or inserted row, or
the batch whose seal was recomputed without the audit key."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import connections
from tortoise.exceptions import IntegrityError, OperationalError

from api.app import create_app
from api.keys import key_provider
from api.settings import Settings
from audit.chain import COLUMNS, batch_digest, pack_entries, row_hash, unpack_entries
from audit.sealer import seal_pending
from audit.verify import Finding, Problem, verify_chain
from crypto.audit_mac import AuditKeys
from models import AuditEvent, AuditSeal, ExportWindow
from models.keystore import load_audit_keys
from tests.audit_attack import tamper
from tests.conftest import https_client, running
from tests.helpers import TestAuthenticator, gql
from tests.world import World

READ = "query($id: ID!) { patient(id: $id) { givenName ssn diagnoses { code } } }"
NOW = timedelta(0)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background sealer: each test seals when it means to."""
    return replace(settings, audit_seal_interval=timedelta(0))


@pytest.fixture
async def keys(app: Starlette, settings: Settings) -> AuditKeys:
    return await load_audit_keys(key_provider(settings))


async def make_records(client: httpx.AsyncClient, world: World, requests: int = 6) -> list[int]:
    """PHI reads by several roles (ALLOW, MASK and DENY records) and a security event."""
    users = ["doc", "nurse", "desk"]
    for n in range(requests):
        response = await gql(client, READ, {"id": world.patients["own"]}, as_user=users[n % 3])
        assert response.status_code == 200
    await client.post("/auth/login", json={"username": "nobody", "password": "wrong"})
    return list(await AuditEvent.all().order_by("id").values_list("id", flat=True))


async def test_audit_tables_refuse_update_and_delete(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    ids = await make_records(client, world, 1)
    await seal_pending(keys, NOW)
    connection = connections.get("default")
    for statement in (
        f"UPDATE audit_event SET ip = '10.6.6.6' WHERE id = {ids[0]}",  # noqa: S608
        f"DELETE FROM audit_event WHERE id = {ids[0]}",  # noqa: S608
        "UPDATE audit_seal SET row_count = 0",
        "DELETE FROM audit_seal",
    ):
        with pytest.raises((OperationalError, IntegrityError), match="append-only"):
            await connection.execute_query(statement)
    if connection.capabilities.dialect == "postgres":
        with pytest.raises(OperationalError, match="append-only"):
            await connection.execute_query("TRUNCATE audit_event")
    assert await AuditEvent.all().order_by("id").values_list("id", flat=True) == ids
    assert (await verify_chain(keys)).problem is None


async def test_an_untouched_trail_verifies_across_batches(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    ids = await make_records(client, world)
    assert await seal_pending(keys, NOW, batch_size=3) == len(ids)
    assert await AuditSeal.all().count() == -(-len(ids) // 3)
    await gql(client, READ, {"id": world.patients["own"]}, as_user="doc")
    report = await verify_chain(keys)
    assert report.problem is None
    assert (report.batches, report.sealed_rows, report.unsealed_rows) == (
        -(-len(ids) // 3),
        len(ids),
        1,
    )
    # Sealing again adds the new row as a batch of its own, chained to the last.
    assert await seal_pending(keys, NOW, batch_size=3) == 1
    assert (await verify_chain(keys)).unsealed_rows == 0


async def test_rows_inside_the_settle_window_wait(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    await make_records(client, world, 2)
    assert await seal_pending(keys, timedelta(hours=1)) == 0
    assert await AuditSeal.all().count() == 0


async def test_a_changed_row_is_named(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    ids = await make_records(client, world)
    await seal_pending(keys, NOW, batch_size=4)
    victim = ids[5]
    # Hide that a field was read: rewrite the record's field list.
    await tamper("audit_event", f"UPDATE audit_event SET phi_fields = '[]' WHERE id = {victim}")  # noqa: S608
    assert (await verify_chain(keys)).problem == Problem(Finding.CHANGED, 2, victim)


async def test_a_removed_row_is_named(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    ids = await make_records(client, world)
    await seal_pending(keys, NOW, batch_size=4)
    await tamper("audit_event", f"DELETE FROM audit_event WHERE id = {ids[2]}")  # noqa: S608
    assert (await verify_chain(keys)).problem == Problem(Finding.REMOVED, 1, ids[2])


async def test_an_inserted_row_is_named(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    await make_records(client, world)
    await seal_pending(keys, NOW, batch_size=4)
    # A record slipped into sealed history (the id is below every sealed one). This month:
    # PostgreSQL has partitions for the months around now only.
    at = datetime.now(UTC).replace(day=1).isoformat(sep=" ")
    await tamper(
        "audit_event",
        "INSERT INTO audit_event (id, at, request_id, event, actor, role, purpose, recorded_at) "  # noqa: S608
        f"VALUES (0, '{at}', 'forged', 'LOGIN_OK', 'usr_x', 'admin', 'SECURITY', '{at}')",
    )
    assert (await verify_chain(keys)).problem == Problem(Finding.INSERTED, 1, 0)


async def test_a_rewritten_chain_fails_without_the_audit_key(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    """The attacker changes a row, then recomputes its hash, its batch's digest and every later
    digest, knowing the algorithm but not the audit key."""
    ids = await make_records(client, world)
    await seal_pending(keys, NOW, batch_size=4)
    victim = ids[1]
    await tamper("audit_event", f"UPDATE audit_event SET ip = '10.6.6.6' WHERE id = {victim}")  # noqa: S608
    seals = await AuditSeal.all().order_by("batch")
    prev = bytes(seals[0].prev_digest)
    updates = []
    for seal in seals:
        entries = dict(unpack_entries(bytes(seal.entries)))
        if victim in entries:
            row = await AuditEvent.filter(id=victim).values_list(*COLUMNS)
            entries[victim] = row_hash(row[0])
        packed = pack_entries(sorted(entries.items()))
        digest = batch_digest(prev, seal.batch, seal.first_id, seal.last_id, packed)
        updates.append(
            f"UPDATE audit_seal SET entries = x'{packed.hex()}', prev_digest = x'{prev.hex()}', "  # noqa: S608
            f"digest = x'{digest.hex()}' WHERE batch = {seal.batch}"
        )
        prev = digest
    if connections.get("default").capabilities.dialect == "postgres":
        updates = [u.replace("= x'", "= '\\x") for u in updates]
    await tamper("audit_seal", *updates)
    assert (await verify_chain(keys)).problem == Problem(Finding.NOT_AUTHENTIC, 1)


async def test_a_removed_seal_breaks_the_chain(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    await make_records(client, world)
    await seal_pending(keys, NOW, batch_size=2)
    await tamper("audit_seal", "DELETE FROM audit_seal WHERE batch = 2")
    assert (await verify_chain(keys)).problem == Problem(Finding.CHAIN_BROKEN, 2)


def test_the_chain_covers_every_column() -> None:
    assert set(COLUMNS) == set(AuditEvent._meta.db_fields)


async def test_the_app_seals_in_the_background(settings: Settings, world: World) -> None:
    background = replace(
        settings, audit_seal_interval=timedelta(milliseconds=100), audit_settle=NOW
    )
    application = create_app(background, authenticate=TestAuthenticator())
    async with running(application), https_client(application) as client:
        stale = await ExportWindow.create(actor="usr_someone", hour=1, patient="pat_x")
        await gql(client, READ, {"id": world.patients["own"]}, as_user="doc")
        for _ in range(200):
            unsealed = await AuditEvent.filter(id__gt=await _sealed_up_to()).count()
            if unsealed == 0 and not await ExportWindow.exists(id=stale.id):
                break
            await asyncio.sleep(0.05)
        report = await verify_chain(await load_audit_keys(key_provider(settings)))
        assert report.problem is None
        assert (report.sealed_rows, report.unsealed_rows) == (1, 0)
        # Windows of past hours are pruned by the same task; the current one stays.
        windows = await ExportWindow.all().values_list("patient", flat=True)
        assert windows == [world.patients["own"]]


async def _sealed_up_to() -> int:
    head = await AuditSeal.all().order_by("-batch").first()
    return head.last_id if head else -1


def phigate_audit(*args: str, settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PHIGATE_DATABASE_URL": settings.database_url,
        "PHIGATE_MASTER_KEY": settings.master_key or "",
        "PHIGATE_DATA_DIR": str(settings.data_dir),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )


async def test_cli_seals_and_verifies(
    client: httpx.AsyncClient, world: World, settings: Settings, master_key: str
) -> None:
    ids = await make_records(client, world, 2)
    sealed = await asyncio.to_thread(phigate_audit, "seal", "--settle", "0", settings=settings)
    assert (sealed.returncode, sealed.stdout.strip()) == (0, f"sealed {len(ids)} audit rows")
    ok = await asyncio.to_thread(phigate_audit, "verify", settings=settings)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: 1 batches, {len(ids)} sealed rows, 0 not sealed yet")
    await tamper("audit_event", f"UPDATE audit_event SET actor = 'usr_else' WHERE id = {ids[0]}")  # noqa: S608
    # Batch 1 was checked already (the checkpoint): only --full reads it again.
    failed = await asyncio.to_thread(phigate_audit, "verify", "--full", settings=settings)
    assert (failed.returncode, failed.stdout.strip()) == (
        1,
        f"FAILED: row {ids[0]} changed (batch 1) (checked {len(ids)} rows, full, from the start)",
    )
    # Without the master key the chain cannot be checked, and the command says so.
    other_key = replace(settings, master_key="A" * 43 + "=")
    refused = await asyncio.to_thread(phigate_audit, "verify", settings=other_key)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr
