"""The audit trail at scale (#23 point 5, #21 point 3): `audit verify` checks only what was
sealed since its authentic checkpoint; PostgreSQL keeps the trail in monthly partitions made
ahead of need; whole sealed months move into a verifiable archive file, the chain verifiable
across the cut."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as run_migrations

from api import db
from api.keys import key_provider
from api.settings import Settings
from audit.checkpoint import VERIFIED, Position, record
from audit.events import Actor, AuthEvent, record_event
from audit.partitions import add_months, ensure_partitions, month_of
from audit.sealer import seal_pending
from audit.verify import Finding, Problem, verify_chain
from crypto.audit_mac import AuditKeys
from crypto.provider import LocalKeyProvider, decode_master_key
from models import AuditCheckpoint, AuditEvent, AuditSeal
from models.keystore import load_audit_keys
from ops.audit_archive import RetentionError, archive_before, cut_of, verify_archive
from tests.audit_attack import tamper
from tests.test_audit_chain import make_records
from tests.world import World

NOW = timedelta(0)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background sealer: each test seals when it means to."""
    return replace(settings, audit_seal_interval=timedelta(0))


@pytest.fixture
async def keys(app: Starlette, settings: Settings) -> AuditKeys:
    return await load_audit_keys(key_provider(settings))


def _postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


async def test_incremental_verify_reads_only_new_rows_and_finds_tampering_in_them(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    old = await make_records(client, world, 3)
    await seal_pending(keys, NOW, batch_size=3)
    first = await verify_chain(keys, keep_checkpoint=True)
    assert (first.problem, first.rows_read) == (None, len(old))
    new = [i for i in await make_records(client, world, 3) if i not in old]
    await seal_pending(keys, NOW, batch_size=3)
    # One change among the new rows, one among those checked before.
    await tamper(
        "audit_event",
        *(f"UPDATE audit_event SET ip = '10.6.6.6' WHERE id = {i}" for i in (new[1], old[0])),  # noqa: S608
    )
    report = await verify_chain(keys, keep_checkpoint=True)
    assert report.rows_read == len(new)
    assert report.started_after == first.batches
    assert report.problem is not None
    assert (report.problem.finding, report.problem.row) == (Finding.CHANGED, new[1])
    # The change to rows checked before is out of an incremental run's reach; --full finds it.
    full = await verify_chain(keys, full=True)
    assert full.rows_read == len(old) + len(new)
    assert full.problem == Problem(Finding.CHANGED, 1, old[0])


async def test_a_forged_checkpoint_is_not_trusted(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    ids = await make_records(client, world, 3)
    await seal_pending(keys, NOW, batch_size=3)
    head = await AuditSeal.all().order_by("-batch").first()
    assert head is not None
    await tamper("audit_event", f"UPDATE audit_event SET actor = 'usr_x' WHERE id = {ids[0]}")  # noqa: S608
    # Someone without the audit key claims the whole chain was verified: a MAC they made up.
    other = AuditKeys({keys.primary: b"k" * 32})
    position = Position(head.batch, head.last_id, bytes(head.digest), len(ids))
    await record(other, VERIFIED, position)
    report = await verify_chain(keys)
    assert report.how == "full (checkpoint forged)"
    assert report.problem == Problem(Finding.CHANGED, 1, ids[0])


async def test_a_checkpoint_past_the_head_names_the_removed_seals(
    client: httpx.AsyncClient, world: World, keys: AuditKeys
) -> None:
    await make_records(client, world, 3)
    await seal_pending(keys, NOW, batch_size=3)
    checked = await verify_chain(keys, keep_checkpoint=True)
    await tamper("audit_seal", f"DELETE FROM audit_seal WHERE batch = {checked.batches}")  # noqa: S608
    report = await verify_chain(keys)
    assert report.problem == Problem(Finding.TRUNCATED, checked.batches)
    assert await AuditCheckpoint.filter(kind=VERIFIED).count() == 1


async def test_partitions_are_made_ahead_and_carry_the_indexes(
    app: Starlette, keys: AuditKeys
) -> None:
    if not _postgres():
        assert await ensure_partitions(datetime.now(UTC)) == 0  # SQLite: one table
        return
    later = datetime.now(UTC) + timedelta(days=200)
    actor = Actor("usr_test", "admin")
    with pytest.raises(Exception, match="no partition"):
        await record_event(AuthEvent.LOGIN_OK, actor, at=later, request_id="r1", ip=None)
    assert await ensure_partitions(later) == 3
    assert await ensure_partitions(later) == 0
    await record_event(AuthEvent.LOGIN_OK, actor, at=later, request_id="r1", ip=None)
    name = f"audit_event_{month_of(later):%Y_%m}"
    indexes = await connections.get("default").execute_query_dict(
        "SELECT indexdef FROM pg_indexes WHERE tablename = $1", [name]
    )
    columns = sorted(row["indexdef"].rsplit("(", 1)[1] for row in indexes)
    assert columns == ["actor, at)", "id, at)", "patient, at)"]


async def _record(at: datetime, n: int) -> None:
    actor = Actor(f"usr_{n}", "admin")
    await record_event(AuthEvent.LOGIN_OK, actor, at=at, request_id=f"r{n}", ip=None)


async def test_archive_round_trip_keeps_the_chain_verifiable_across_the_cut(
    client: httpx.AsyncClient, world: World, keys: AuditKeys, settings: Settings, tmp_path: Path
) -> None:
    cut = month_of(datetime.now(UTC))
    file = tmp_path / "audit-old.phigate"
    provider = key_provider(settings)
    if not _postgres():
        with pytest.raises(RetentionError, match="needs PostgreSQL"):
            await archive_before(keys, provider, cut, file, "op_test")
        return
    with pytest.raises(RetentionError, match="first day of a month"):
        cut_of(f"{cut:%Y-%m}-15")
    old_month = add_months(cut, -1)
    old_at = datetime(old_month.year, old_month.month, 3, tzinfo=UTC)
    for n in range(5):
        await _record(old_at + timedelta(hours=n), n)
    old = {row[0] for row in await AuditEvent.all().values_list("id")}
    live = [i for i in await make_records(client, world, 2) if i not in old]
    # Unsealed rows before the cut: refused, nothing written.
    with pytest.raises(RetentionError, match="not sealed"):
        await archive_before(keys, provider, cut, file, "op_test")
    assert not file.exists()
    await seal_pending(keys, NOW, batch_size=3)
    summary = await archive_before(keys, provider, cut, file, "op_test")
    assert summary.rows == 5
    assert summary.start.batch == 0
    assert await AuditEvent.filter(at__lt=datetime(cut.year, cut.month, 1, tzinfo=UTC)).count() == 0
    assert await AuditEvent.filter(id__in=live).count() == len(live)
    # The file verifies on its own; the live chain starts at its head.
    again = verify_archive(keys, provider, file)
    assert (again.rows, again.head) == (5, summary.head)
    report = await verify_chain(keys, full=True)
    assert report.problem is None
    assert report.how == f"full, from the archive cut after batch {summary.head.batch}"
    # A changed byte of the file is caught.
    data = bytearray(file.read_bytes())
    data[-40] ^= 1
    damaged = tmp_path / "damaged.phigate"
    damaged.write_bytes(bytes(data))
    with pytest.raises(RetentionError):
        verify_archive(keys, provider, damaged)


async def test_existing_rows_move_into_partitions_and_still_verify(
    database_url: str, master_key: str
) -> None:
    """A database at 0016 with sealed audit rows over several months; 0019 partitions it
    (PostgreSQL) and the chain verifies in full; back to 0016 the rows are all there."""
    config = db.tortoise_config(database_url, migrating=True)
    provider = LocalKeyProvider(decode_master_key(master_key))
    await run_migrations(config=config, target="phigate.0016_passkeys")
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)
    try:
        keys = await load_audit_keys(provider)
        for n in range(7):
            await _record(datetime.now(UTC) - timedelta(days=40 * n), n)
        await seal_pending(keys, NOW, batch_size=3)
        head = await AuditSeal.all().order_by("-batch").first()
        assert head is not None
    finally:
        await Tortoise.close_connections()
    await run_migrations(config=config)
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)
    try:
        report = await verify_chain(keys, full=True)
        assert (report.problem, report.sealed_rows) == (None, 7)
        assert report.head_digest == bytes(head.digest)
    finally:
        await Tortoise.close_connections()
    await run_migrations(config=config, target="phigate.0016_passkeys")
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=config)
    try:
        assert await AuditEvent.all().count() == 7
    finally:
        await Tortoise.close_connections()
