"""The audit hash chain: how a row is encoded, hashed, and how a batch's digest is formed.

A row's canonical encoding is a compact JSON array of every column in a fixed order, with
timestamps as UTC ISO 8601 strings with microseconds, so PostgreSQL and SQLite (which hand
datetimes back differently) encode the same row identically. Each sealed row keeps its id
and a 16-byte truncated SHA-256 of that encoding; a batch's digest is the SHA-256 of the
previous digest, the batch number, the id range and those entries.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

COLUMNS = (
    "id", "at", "request_id", "event", "actor", "role", "client", "purpose", "ip", "patient",
    "decision", "phi_fields", "detail", "recorded_at",
)  # fmt: skip
"""Every column of `audit_event`: a column added later must be added here (a test checks)."""

GENESIS = bytes(32)
ROW_HASH_BYTES = 16
_ENTRY = struct.Struct(">q16s")
_RANGE = struct.Struct(">qqq")


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def canonical(row: Sequence[Any]) -> list[Any]:
    """The row's values as they are hashed: what an archive file keeps (ops/audit_archive.py),
    so that its rows hash as they did in the database."""
    return [_canonical_value(v) for v in row]


def row_hash(row: Sequence[Any]) -> bytes:
    """`row` holds the values of `COLUMNS`, in that order (or their `canonical` form)."""
    encoded = json.dumps(canonical(row), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).digest()[:ROW_HASH_BYTES]


def pack_entries(entries: Sequence[tuple[int, bytes]]) -> bytes:
    return b"".join(_ENTRY.pack(row_id, digest) for row_id, digest in entries)


def unpack_entries(blob: bytes) -> Iterator[tuple[int, bytes]]:
    if len(blob) % _ENTRY.size:
        raise ValueError("truncated seal entries")
    yield from _ENTRY.iter_unpack(blob)


def batch_digest(
    prev_digest: bytes, batch: int, first_id: int, last_id: int, entries: bytes
) -> bytes:
    return hashlib.sha256(prev_digest + _RANGE.pack(batch, first_id, last_id) + entries).digest()
