"""`phigate audit verify`: checks the sealed chain and its sealed rows. Writes nothing but, when
asked, the checkpoint it reached (audit/checkpoint.py).

Reports the first problem found, in chain order: a seal that is missing, altered or not
authenticated by the audit key, or a row that was changed, removed or inserted since it
was sealed. Rows after the last seal (the unsealed tail) are counted, not checked.

Incremental by default: it starts after the newest authentic checkpoint whose batch still has
the digest recorded, so its cost is that of the batches sealed since, not of the table. A
forged checkpoint, or one the chain no longer matches, is not trusted: the check runs in full
and then reports it. Older months archived away (audit/retention.py) leave an `archived`
checkpoint where the live chain now starts; even a full check starts there.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from typing import Any, Protocol

from tortoise.queryset import QuerySet

from audit import checkpoint
from audit.chain import COLUMNS, batch_digest, row_hash, unpack_entries
from audit.checkpoint import ARCHIVED, START, VERIFIED, Position
from crypto.audit_mac import AuditKeys
from models import AuditEvent, AuditSeal

_SEALS_PER_QUERY = 100


class Finding(StrEnum):
    CHANGED = "changed"
    REMOVED = "removed"
    INSERTED = "inserted"
    CHAIN_BROKEN = "chain broken"
    """A seal is missing, out of order or altered, or does not follow its predecessor."""
    NOT_AUTHENTIC = "not authentic"
    """The seal's MAC does not verify under the audit key: the chain was recomputed."""
    CHECKPOINT_FORGED = "checkpoint not authentic"
    """A checkpoint's MAC does not verify: it was written without the audit key."""
    TRUNCATED = "missing, though an earlier verify checked it"
    """The chain ends before a verified checkpoint: its newest seals were removed."""


@dataclass(frozen=True, slots=True)
class Problem:
    finding: Finding
    batch: int
    row: int | None = None

    def __str__(self) -> str:
        if self.row is not None:
            return f"row {self.row} {self.finding.value} (batch {self.batch})"
        return f"batch {self.batch}: {self.finding.value}"


@dataclass(frozen=True, slots=True)
class Report:
    batches: int
    sealed_rows: int
    unsealed_rows: int
    head_digest: bytes
    problem: Problem | None
    started_after: int
    """The batch checking started after (0: the first batch was checked)."""
    rows_read: int
    how: str
    """How the start was chosen: full, incremental after a checkpoint, or why not."""


class Progress(Protocol):
    """What a progress display needs (ops/progress.py)."""

    def advance(self, count: int) -> None: ...

    def close(self) -> None: ...


class SealLike(Protocol):
    """A sealed batch, from `audit_seal` or from an archive file (audit/retention.py)."""

    @property
    def batch(self) -> int: ...

    @property
    def first_id(self) -> int: ...

    @property
    def last_id(self) -> int: ...

    @property
    def row_count(self) -> int: ...

    @property
    def entries(self) -> bytes: ...

    @property
    def prev_digest(self) -> bytes: ...

    @property
    def digest(self) -> bytes: ...

    @property
    def key_version(self) -> int: ...

    @property
    def mac(self) -> bytes: ...


def _row_problem(
    batch: int, sealed: dict[int, bytes], rows: list[tuple[Any, ...]]
) -> Problem | None:
    actual = {row[0]: row_hash(row) for row in rows}
    for row_id in sorted(sealed.keys() | actual.keys()):
        if row_id not in actual:
            return Problem(Finding.REMOVED, batch, row_id)
        if row_id not in sealed:
            return Problem(Finding.INSERTED, batch, row_id)
        if actual[row_id] != sealed[row_id]:
            return Problem(Finding.CHANGED, batch, row_id)
    return None


def _seal_problem(
    keys: AuditKeys, seal: SealLike, position: Position
) -> tuple[Problem | None, dict[int, bytes]]:
    entries = bytes(seal.entries)
    expected_batch = position.batch + 1
    if (
        seal.batch != expected_batch
        or bytes(seal.prev_digest) != position.digest
        or batch_digest(position.digest, seal.batch, seal.first_id, seal.last_id, entries)
        != bytes(seal.digest)
    ):
        return Problem(Finding.CHAIN_BROKEN, expected_batch), {}
    if not keys.verify(bytes(seal.digest), seal.key_version, bytes(seal.mac)):
        return Problem(Finding.NOT_AUTHENTIC, seal.batch), {}
    try:
        sealed = dict(unpack_entries(entries))
    except ValueError:
        return Problem(Finding.CHAIN_BROKEN, seal.batch), {}
    if len(sealed) != seal.row_count:
        return Problem(Finding.CHAIN_BROKEN, seal.batch), {}
    return None, sealed


def check_seals(
    keys: AuditKeys,
    seals: Sequence[SealLike],
    rows: Sequence[tuple[Any, ...]],
    position: Position,
) -> tuple[Position, Problem | None]:
    """Checks `seals` (consecutive, in batch order) from `position` on against `rows`: every
    row whose id is after `position.last_id` and up to the last seal's, in id order. Returns
    the position after the last sound seal, and the first problem."""
    start = 0
    for seal in seals:
        problem, sealed = _seal_problem(keys, seal, position)
        if problem is None:
            end = bisect_right(rows, seal.last_id, lo=start, key=itemgetter(0))
            problem = _row_problem(seal.batch, sealed, list(rows[start:end]))
            start = end
        if problem is not None:
            return position, problem
        position = Position(
            seal.batch, seal.last_id, bytes(seal.digest), position.sealed_rows + seal.row_count
        )
    return position, None


def _after(position: Position) -> QuerySet[AuditEvent]:
    """The rows after `position`; from the start, every row (an id below the first sealed one is
    an inserted row too)."""
    return AuditEvent.filter(id__gt=position.last_id) if position.batch else AuditEvent.all()


async def _start(keys: AuditKeys, full: bool) -> tuple[Position | None, Problem | None, str]:
    """Where checking starts (None: nowhere sound), a problem to report if the check finds none
    earlier, and how the start was chosen."""
    anchor = await checkpoint.newest(ARCHIVED)
    base = START
    if anchor is not None:
        if not checkpoint.authentic(keys, anchor):
            # No sound start for the live chain: nothing after it can be trusted either.
            return None, Problem(Finding.CHECKPOINT_FORGED, anchor.batch), "archive cut forged"
        base = checkpoint.position_of(anchor)
    where = f"from the archive cut after batch {base.batch}" if base.batch else "from the start"
    if full:
        return base, None, f"full, {where}"
    row = await checkpoint.newest(VERIFIED)
    if row is None or row.batch <= base.batch:
        return base, None, f"full (no checkpoint), {where}"
    if not checkpoint.authentic(keys, row):
        return base, Problem(Finding.CHECKPOINT_FORGED, row.batch), "full (checkpoint forged)"
    seal = await AuditSeal.get_or_none(batch=row.batch)
    if seal is None:
        return base, Problem(Finding.TRUNCATED, row.batch), "full (checkpoint past the head)"
    if bytes(seal.digest) != bytes(row.digest) or seal.last_id != row.last_id:
        return base, Problem(Finding.CHAIN_BROKEN, row.batch), "full (checkpoint differs)"
    return checkpoint.position_of(row), None, f"incremental, after batch {row.batch}"


async def verify_chain(
    keys: AuditKeys,
    *,
    full: bool = False,
    keep_checkpoint: bool = False,
    progress: Callable[[int], Progress] | None = None,
) -> Report:
    """Checks the seals after the newest authentic checkpoint that matches the chain (all of
    them with `full`, or when there is none), and their rows. `keep_checkpoint` records the
    head reached as the next checkpoint when the check found no problem. `progress` is given
    the number of batches to check."""
    begin, deferred, how = await _start(keys, full)
    start = begin or START
    position, problem, rows_read = start, None, 0
    if begin is not None:
        bar = progress(await AuditSeal.filter(batch__gt=start.batch).count()) if progress else None
        while problem is None:
            seals = (
                await AuditSeal.filter(batch__gt=position.batch)
                .order_by("batch")
                .limit(_SEALS_PER_QUERY)
            )
            if not seals:
                break
            rows = (
                await _after(position)
                .filter(id__lte=seals[-1].last_id)
                .order_by("id")
                .values_list(*COLUMNS)
            )
            rows_read += len(rows)
            position, problem = check_seals(keys, seals, rows, position)
            if bar is not None:
                bar.advance(len(seals))
            if len(seals) < _SEALS_PER_QUERY:
                break
        if bar is not None:
            bar.close()
    problem = problem or deferred
    if problem is None and keep_checkpoint and position.batch > start.batch:
        await checkpoint.record(keys, VERIFIED, position)
    unsealed = await _after(position).count()
    return Report(
        batches=position.batch,
        sealed_rows=position.sealed_rows,
        unsealed_rows=unsealed,
        head_digest=position.digest,
        problem=problem,
        started_after=start.batch,
        rows_read=rows_read,
        how=how,
    )
