"""`phigate audit archive --before DATE`: whole sealed months of the audit trail into an
encrypted, verifiable file, then out of the database; and `audit verify --archive FILE`.

PostgreSQL only: a month is a partition (audit/partitions.py), detached and dropped whole. On
SQLite the trail is one append-only table and stays whole: the command refuses there.

The file is a backup archive (ops/archive.py: AES-256-GCM chunks under a key wrapped by the
key provider, an authenticated manifest). Its dump is one JSON line per sealed batch, from the
first batch after the previous cut: `[seal, rows]`, the seal as in `audit_seal`, the rows as
they are hashed (audit/chain.py `canonical`). The manifest holds where the archived stretch of
the chain starts (genesis, or the previous archive's head) and its head.

Never loses a row: the batches are checked (as `audit verify` does) while they are written,
the file is read back and checked again, and only then, in one transaction, an `archived`
checkpoint at the archive's head is recorded (the live chain starts there, audit/verify.py)
and the months' partitions are detached and dropped. The seals of archived batches stay in
`audit_seal` (append-only, 24 bytes a row): the cut's seal links the live chain to the file.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from audit import checkpoint
from audit.chain import COLUMNS, canonical
from audit.checkpoint import ARCHIVED, START, Position
from audit.events import OpsEvent
from audit.verify import check_seals
from crypto.audit_mac import AuditKeys
from crypto.provider import KeyProvider
from models import AuditEvent, AuditSeal
from ops.archive import ArchiveError, ArchiveReader, ArchiveWriter
from ops.audit import record_operation
from ops.backup import new_archive
from permissions.roles import Purpose

KIND = "audit-archive"
_SEALS_PER_QUERY = 100
_PARTITION = re.compile(r"audit_event_(\d{4})_(\d{2})")


class RetentionError(Exception):
    """The archive was refused or does not verify. Fixed messages: no row values."""


@dataclass(frozen=True, slots=True)
class ArchivedSeal:
    """A row of `audit_seal`, as the archive keeps it (audit/verify.py `SealLike`)."""

    batch: int
    first_id: int
    last_id: int
    row_count: int
    entries: bytes
    prev_digest: bytes
    digest: bytes
    key_version: int
    mac: bytes

    @classmethod
    def of(cls, seal: AuditSeal) -> ArchivedSeal:
        return cls(
            seal.batch, seal.first_id, seal.last_id, seal.row_count, bytes(seal.entries),
            bytes(seal.prev_digest), bytes(seal.digest), seal.key_version, bytes(seal.mac),
        )  # fmt: skip

    def encode(self) -> dict[str, Any]:
        return {
            k: base64.b64encode(v).decode() if isinstance(v, bytes) else v
            for k, v in asdict(self).items()
        }

    @classmethod
    def decode(cls, fields: dict[str, Any]) -> ArchivedSeal:
        raw = {k: base64.b64decode(fields[k]) for k in ("entries", "prev_digest", "digest", "mac")}
        return cls(
            int(fields["batch"]), int(fields["first_id"]), int(fields["last_id"]),
            int(fields["row_count"]), raw["entries"], raw["prev_digest"], raw["digest"],
            int(fields["key_version"]), raw["mac"],
        )  # fmt: skip


def _position(fields: dict[str, Any]) -> Position:
    return Position(
        fields["batch"], fields["last_id"], bytes.fromhex(fields["digest"]), fields["sealed_rows"]
    )


def _fields(position: Position) -> dict[str, Any]:
    return {**asdict(position), "digest": position.digest.hex()}


@dataclass(frozen=True, slots=True)
class Summary:
    archive_id: str
    months: list[str]
    rows: int
    start: Position
    head: Position

    def describe(self) -> str:
        months = f"{self.months[0]}..{self.months[-1]}" if self.months else "no months"
        return (
            f"audit archive {self.archive_id} ({months}): {self.rows} rows, batches "
            f"{self.start.batch + 1}..{self.head.batch}; starts at {self.start.digest.hex()}, "
            f"head digest {self.head.digest.hex()}"
        )


def cut_of(text: str) -> date:
    """The cut `--before` names: the first day of a month (a cut inside one is refused)."""
    try:
        cut = date.fromisoformat(text)
    except ValueError:
        raise RetentionError("--before must be a date, YYYY-MM-01") from None
    if cut.day != 1:
        raise RetentionError("--before must be the first day of a month: months go whole")
    return cut


async def _months_before(cut: date) -> dict[str, date]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'audit_event'::regclass"
    )
    months = {}
    for row in rows:
        match = _PARTITION.fullmatch(row["name"])
        if match and date(int(match[1]), int(match[2]), 1) < cut:
            months[row["name"]] = date(int(match[1]), int(match[2]), 1)
    return dict(sorted(months.items(), key=lambda item: item[1]))


async def _start(keys: AuditKeys) -> Position:
    anchor = await checkpoint.newest(ARCHIVED)
    if anchor is None:
        return START
    if not checkpoint.authentic(keys, anchor):
        raise RetentionError("the last archive cut is not authentic: run phigate audit verify")
    return checkpoint.position_of(anchor)


async def _cut_batch(start: Position, cut: datetime) -> tuple[int, int]:
    """The batch the cut ends on, and the rows before the cut; refuses a cut the chain cannot
    be split at."""
    before = AuditEvent.filter(at__lt=cut)
    if start.batch:
        before = before.filter(id__gt=start.last_id)
    rows = await before.count()
    if not rows:
        return start.batch, 0
    newest = await before.order_by("-id").first()
    last_id = newest.id if newest else 0
    head = await AuditSeal.all().order_by("-batch").first()
    if head is None or head.last_id < int(last_id):
        raise RetentionError(
            "refused: rows before the cut are not sealed yet (phigate audit seal, then retry)"
        )
    if await AuditEvent.filter(id__lte=last_id, at__gte=cut).exists():
        raise RetentionError("refused: later rows have ids inside the archived months")
    seal = await AuditSeal.get_or_none(last_id=last_id)
    if seal is None:
        # Only batches sealed before migration 0019 span two months.
        raise RetentionError("refused: a sealed batch spans the cut; choose another month")
    return seal.batch, rows


async def _write_batches(
    keys: AuditKeys, start: Position, last: int, writer: ArchiveWriter
) -> Position:
    """Writes the batches after `start` up to `last` with their rows, each checked first;
    returns the head written."""
    position = start
    while position.batch < last:
        seals = (
            await AuditSeal.filter(batch__gt=position.batch, batch__lte=last)
            .order_by("batch")
            .limit(_SEALS_PER_QUERY)
        )
        rows = (
            await AuditEvent.filter(id__gt=position.last_id, id__lte=seals[-1].last_id)
            .order_by("id")
            .values_list(*COLUMNS)
        )
        checked, problem = check_seals(keys, seals, rows, position)
        if problem is not None:
            raise RetentionError(f"refused: the chain does not verify: {problem}")
        by_id = iter(rows)
        for seal in seals:
            batch_rows = [canonical(next(by_id)) for _ in range(seal.row_count)]
            line = json.dumps([ArchivedSeal.of(seal).encode(), batch_rows], separators=(",", ":"))
            writer.write(line.encode() + b"\n")
        position = checked
    return position


def _lines(reader: ArchiveReader) -> Iterator[bytes]:
    pending = b""
    for chunk in reader.chunks():
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        raise RetentionError("the audit archive is damaged (a cut-off line)")


def verify_archive(keys: AuditKeys, provider: KeyProvider, path: Path) -> Summary:
    """Decrypts and checks the whole file: every seal (chain, digest, MAC under the audit key)
    from the start the manifest names, and every row against its seal."""
    try:
        with path.open("rb") as source:
            reader = ArchiveReader(source, provider)
            if reader.header.fields.get("kind") != KIND:
                raise RetentionError("not an audit archive (phigate backup verify reads backups)")
            # The header is authenticated with every chunk (ops/archive.py), its start too.
            position = start = _position(reader.header.fields["start"])
            rows = 0
            for line in _lines(reader):
                fields, batch_rows = json.loads(line)
                seal = ArchivedSeal.decode(fields)
                position, problem = check_seals(keys, [seal], batch_rows, position)
                if problem is not None:
                    raise RetentionError(f"the audit archive does not verify: {problem}")
                rows += len(batch_rows)
            manifest = reader.manifest
    except (ArchiveError, OSError) as exc:
        raise RetentionError(str(exc) if isinstance(exc, ArchiveError) else "cannot read") from None
    except (ValueError, KeyError, TypeError):
        raise RetentionError("the audit archive is damaged (its contents)") from None
    if manifest.get("rows") != rows or _position(manifest["head"]) != position:
        raise RetentionError("the audit archive is damaged (its manifest)")
    return Summary(reader.header.backup_id, manifest["months"], rows, start, position)


async def archive_before(
    keys: AuditKeys, provider: KeyProvider, cut: date, output: Path, operation: str
) -> Summary:
    """Archives every month before `cut` into `output` (which must not exist), verifies the
    file, then drops those months from the database."""
    if connections.get("default").capabilities.dialect != "postgres":
        raise RetentionError(
            "audit archive needs PostgreSQL (monthly partitions); on SQLite the audit trail "
            "stays in one table"
        )
    months = await _months_before(cut)
    if not months:
        raise RetentionError("nothing to archive: no month before the cut is in the database")
    start = await _start(keys)
    cut_at = datetime(cut.year, cut.month, 1, tzinfo=UTC)
    last, rows = await _cut_batch(start, cut_at)
    names = [f"{month:%Y-%m}" for month in months.values()]
    header = {
        "kind": KIND,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgres",
        "before": cut.isoformat(),
        "start": _fields(start),
    }
    fd, partial = new_archive(output)
    try:
        with os.fdopen(fd, "wb") as out:
            writer = ArchiveWriter(out, provider, header)
            head = await _write_batches(keys, start, last, writer)
            writer.finish({"months": names, "rows": rows, "head": _fields(head)})
            out.flush()
            os.fsync(out.fileno())
            os.link(partial, output)
            partial.unlink()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    summary = verify_archive(keys, provider, output)
    if summary.head != head or summary.rows != rows:
        raise RetentionError("the audit archive written does not read back the same")
    await record_operation(
        OpsEvent.AUDIT_ARCHIVED,
        f"audit archive {summary.archive_id}: {rows} rows, {names[0]}..{names[-1]}",
        operation=operation,
        purpose=Purpose.OPERATIONS,
    )
    async with in_transaction() as connection:
        await checkpoint.record(keys, ARCHIVED, head, using_db=connection)
        for name in months:
            # Names from the catalogue, matched against the function's pattern above.
            await connection.execute_script(f"ALTER TABLE audit_event DETACH PARTITION {name}")
            await connection.execute_script(f"DROP TABLE {name}")
    return summary
