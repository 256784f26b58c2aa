"""Seals settled audit rows into the hash chain, off the request path.

Which rows are safe to seal: ids come from a sequence, so with concurrent writers a slow
insert could commit after a row with a higher id. The sealer therefore seals only a prefix of
the unsealed rows (in id order) whose `recorded_at` (the database's clock at insert) is older
than the settle window, by the database's clock (hosts' clocks may differ from it and from
each other): a row with a lower id that is still uncommitted would need an insert
statement open for longer than that window. Read records are single autocommit statements; a
write's record commits with its write (audit/writes.py), a transaction of a few statements,
far shorter than the window. If one ever were not, `audit verify` would name that row as
inserted.

Two sealers never append the same batch: the batch number is unique, and on PostgreSQL a
transaction-scoped advisory lock lets one worker seal at a time.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from itertools import takewhile
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from audit.budget import prune_windows
from audit.chain import COLUMNS, GENESIS, batch_digest, pack_entries, row_hash
from audit.health import Streak
from audit.partitions import ensure_partitions, month_of
from audit.periodic import repeated
from crypto.audit_mac import AuditKeys
from models import AuditEvent, AuditSeal
from models.locks import holds_lock
from observe import metrics

log = logging.getLogger("phigate.audit")

BATCH_SIZE = 250
"""Rows per seal. A batch is read, hashed and sealed in one go on the event loop of a server
worker (about 29 us a row): 1,000 rows held it for about 18 ms, every request in flight on that
worker waiting; 250 hold it for about 5."""
_LOCK_KEY = 0x70686967617465  # "phigate": the advisory lock of the audit sealer


class SealerSettings(Protocol):
    @property
    def audit_settle(self) -> timedelta: ...

    @property
    def audit_seal_interval(self) -> timedelta: ...


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def seal_pending(keys: AuditKeys, settle: timedelta, batch_size: int = BATCH_SIZE) -> int:
    """Seal every settled, unsealed row in batches; returns how many rows were sealed."""
    total = 0
    while True:
        try:
            sealed = await _seal_batch(keys, settle, batch_size)
        except IntegrityError:
            # Another sealer appended this batch number first; its seal stands.
            return total
        total += sealed
        # A short batch is the settled prefix's end, or a month's (then more may follow).
        if not sealed:
            return total


async def sealed_through(connection: BaseDBAsyncClient | None = None) -> int:
    """The last audit id in the chain (0 before the first seal): every row up to it has
    settled."""
    head = (
        await AuditSeal.all()
        .using_db(connection)
        .order_by("-batch")
        .limit(1)
        .values_list("last_id")
    )
    return int(head[0][0]) if head else 0


async def _database_now(connection: BaseDBAsyncClient) -> datetime:
    """The database's clock, which wrote `recorded_at`: a host's clock running ahead of it
    would take rows as settled early, and seal past a row still being inserted."""
    rows = await connection.execute_query_dict("SELECT CURRENT_TIMESTAMP AS now")
    now = rows[0]["now"]
    # SQLite answers text, in UTC.
    return as_utc(now if isinstance(now, datetime) else datetime.fromisoformat(now))


async def _seal_batch(keys: AuditKeys, settle: timedelta, batch_size: int) -> int:
    async with in_transaction() as connection:
        if not await holds_lock(connection, _LOCK_KEY):
            return 0
        cutoff = await _database_now(connection) - settle
        head = await AuditSeal.all().using_db(connection).order_by("-batch").first()
        pending = AuditEvent.all().using_db(connection)
        if head is not None:
            pending = pending.filter(id__gt=head.last_id)
        rows: list[tuple[Any, ...]] = (
            await pending.order_by("id").limit(batch_size).values_list(*COLUMNS)
        )
        settled = list(takewhile(lambda row: as_utc(row[-1]) <= cutoff, rows))
        if not settled:
            return 0
        # A batch never spans two months of `at`, so archiving whole months (ops/audit_archive.py)
        # cuts the chain between batches.
        month = month_of(settled[0][1])
        settled = list(takewhile(lambda row: month_of(row[1]) == month, settled))
        batch = head.batch + 1 if head else 1
        prev_digest = bytes(head.digest) if head else GENESIS
        first_id, last_id = settled[0][0], settled[-1][0]
        entries = pack_entries([(row[0], row_hash(row)) for row in settled])
        digest = batch_digest(prev_digest, batch, first_id, last_id, entries)
        version = keys.primary
        await AuditSeal.create(
            using_db=connection,
            batch=batch,
            first_id=first_id,
            last_id=last_id,
            row_count=len(settled),
            entries=entries,
            prev_digest=prev_digest,
            digest=digest,
            key_version=version,
            mac=keys.mac(digest, version),
            sealed_at=datetime.now(UTC),
        )
    return len(settled)


async def _seal_round(keys: AuditKeys, settle: timedelta) -> None:
    """Create the audit partitions ahead, seal, and prune past export windows."""
    await ensure_partitions(datetime.now(UTC))
    await seal_pending(keys, settle)
    await prune_windows(datetime.now(UTC))


def background_sealer(
    settings: SealerSettings, keys: AuditKeys
) -> contextlib.AbstractAsyncContextManager[Streak]:
    """Runs the sealer beside the app; a zero interval leaves sealing to `phigate audit seal`.
    Yields how its runs go."""
    return repeated(
        lambda: _seal_round(keys, settings.audit_settle),
        settings.audit_seal_interval,
        metrics.SEALING_FAILURES,
        log,
        "audit sealing",
    )
