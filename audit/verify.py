"""`phigate audit verify`: checks the sealed chain and every sealed row. Never writes.

Reports the first problem found, in chain order: a seal that is missing, altered or not
authenticated by the audit key, or a row that was changed, removed or inserted since it
was sealed. Rows after the last seal (the unsealed tail) are counted, not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from audit.chain import COLUMNS, GENESIS, batch_digest, row_hash, unpack_entries
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


async def _check_seal(
    keys: AuditKeys, seal: AuditSeal, expected_batch: int, prev_digest: bytes, after: int | None
) -> Problem | None:
    entries = bytes(seal.entries)
    if (
        seal.batch != expected_batch
        or bytes(seal.prev_digest) != prev_digest
        or batch_digest(prev_digest, seal.batch, seal.first_id, seal.last_id, entries)
        != bytes(seal.digest)
    ):
        return Problem(Finding.CHAIN_BROKEN, expected_batch)
    if not keys.verify(bytes(seal.digest), seal.key_version, bytes(seal.mac)):
        return Problem(Finding.NOT_AUTHENTIC, seal.batch)
    try:
        sealed = dict(unpack_entries(entries))
    except ValueError:
        return Problem(Finding.CHAIN_BROKEN, seal.batch)
    if len(sealed) != seal.row_count:
        return Problem(Finding.CHAIN_BROKEN, seal.batch)
    rows = AuditEvent.filter(id__lte=seal.last_id)
    if after is not None:
        rows = rows.filter(id__gt=after)
    return _row_problem(seal.batch, sealed, await rows.order_by("id").values_list(*COLUMNS))


async def verify_chain(keys: AuditKeys) -> Report:
    prev_digest, last_id, batches, sealed_rows = GENESIS, None, 0, 0
    problem: Problem | None = None
    while problem is None:
        seals = await AuditSeal.filter(batch__gt=batches).order_by("batch").limit(_SEALS_PER_QUERY)
        for seal in seals:
            problem = await _check_seal(keys, seal, batches + 1, prev_digest, last_id)
            if problem is not None:
                break
            prev_digest, last_id = bytes(seal.digest), seal.last_id
            batches += 1
            sealed_rows += seal.row_count
        if len(seals) < _SEALS_PER_QUERY:
            break
    tail = AuditEvent.all() if last_id is None else AuditEvent.filter(id__gt=last_id)
    return Report(batches, sealed_rows, await tail.count(), prev_digest, problem)
