"""Checkpoints of the seal chain: a position (batch, last row id, digest, rows sealed so far)
authenticated by an HMAC under the audit key.

Kept in the database (`audit_checkpoint`) rather than in a file beside it: every host and every
operator's `audit verify` share it, backups carry it with the chain it describes, and nothing
on the database server's disk has to be managed. Its MAC is what makes that safe: without the
audit key nobody can write a checkpoint that would make `audit verify` skip rows. What someone
with write access can still do is delete checkpoints (the next verify is a full one) or put
back an older authentic one (it checks more); neither hides a change.

The MAC covers a message that cannot be mistaken for a seal's: seals MAC a 32-byte digest,
checkpoints this longer labelled message.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from audit.chain import GENESIS
from crypto.audit_mac import AuditKeys
from models import AuditCheckpoint

VERIFIED = "verified"
"""`audit verify` found the chain sound up to here."""
ARCHIVED = "archived"
"""The batches up to here were archived and their rows dropped: the live chain starts here."""

_LABEL = b"phigate-audit-checkpoint|"
_NUMBERS = struct.Struct(">qqq")


@dataclass(frozen=True, slots=True)
class Position:
    """A point of the chain: the last batch before it, that batch's last row id and digest,
    and the rows sealed up to it."""

    batch: int
    last_id: int
    digest: bytes
    sealed_rows: int


START = Position(batch=0, last_id=0, digest=GENESIS, sealed_rows=0)


def _message(kind: str, position: Position) -> bytes:
    numbers = _NUMBERS.pack(position.batch, position.last_id, position.sealed_rows)
    return _LABEL + kind.encode() + b"|" + numbers + position.digest


def position_of(row: AuditCheckpoint) -> Position:
    return Position(row.batch, row.last_id, bytes(row.digest), row.sealed_rows)


def authentic(keys: AuditKeys, row: AuditCheckpoint) -> bool:
    return keys.verify(_message(row.kind, position_of(row)), row.key_version, bytes(row.mac))


async def newest(kind: str) -> AuditCheckpoint | None:
    return await AuditCheckpoint.filter(kind=kind).order_by("-id").first()


async def record(
    keys: AuditKeys, kind: str, position: Position, using_db: BaseDBAsyncClient | None = None
) -> None:
    version = keys.primary
    await AuditCheckpoint.create(
        using_db=using_db,
        kind=kind,
        batch=position.batch,
        last_id=position.last_id,
        digest=position.digest,
        sealed_rows=position.sealed_rows,
        key_version=version,
        mac=keys.mac(_message(kind, position), version),
        created_at=datetime.now(UTC),
    )
