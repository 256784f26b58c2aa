"""`phigate audit seal|verify|archive`: the audit hash chain from the command line."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api import db
from api.keys import key_provider
from api.settings import Settings
from api.startup import key_failure
from audit.partitions import ensure_partitions
from audit.sealer import seal_pending
from audit.verify import verify_chain
from crypto.errors import CryptoError
from models.keystore import load_audit_keys
from ops.audit import operation_id
from ops.audit_archive import RetentionError, archive_before, cut_of, verify_archive
from ops.backup import BackupError
from ops.progress import Progress


def add_parser(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="seal and verify the audit trail")
    commands = audit.add_subparsers(dest="audit_command", required=True)
    seal = commands.add_parser("seal", help="seal settled audit rows into the hash chain now")
    seal.add_argument(
        "--settle",
        type=int,
        default=None,
        help="seal rows recorded at least this many seconds ago (PHIGATE_AUDIT_SETTLE_SECONDS)",
    )
    verify = commands.add_parser(
        "verify", help="check the chain and its rows sealed since the last verify (checkpoint)"
    )
    verify.add_argument("--full", action="store_true", help="check every batch and row again")
    verify.add_argument(
        "--archive", type=Path, help="check this audit archive file instead of the database"
    )
    archive = commands.add_parser(
        "archive",
        help="move whole sealed months before a date into an encrypted archive file "
        "(PostgreSQL; run as the migrating role)",
    )
    archive.add_argument("--before", required=True, help="first day of a month, YYYY-MM-01")
    archive.add_argument("file", type=Path, help="archive to write (must not exist)")


async def _seal(settings: Settings, args: argparse.Namespace) -> int:
    settle = settings.audit_settle if args.settle is None else timedelta(seconds=args.settle)
    keys = await load_audit_keys(key_provider(settings))
    await ensure_partitions(datetime.now(UTC))
    sealed = await seal_pending(keys, settle)
    print(f"sealed {sealed} audit rows")
    return 0


async def _verify(settings: Settings, args: argparse.Namespace) -> int:
    keys = await load_audit_keys(key_provider(settings), create=False)
    if args.archive is not None:
        summary = verify_archive(keys, key_provider(settings), args.archive)
        print(f"OK: {summary.describe()}")
        return 0
    report = await verify_chain(
        keys,
        full=args.full,
        keep_checkpoint=True,
        progress=lambda batches: Progress("verifying batches", batches),
    )
    checked = f"checked {report.rows_read} rows, {report.how}"
    if report.problem is not None:
        print(f"FAILED: {report.problem} ({checked})")
        return 1
    print(
        f"OK: {report.batches} batches, {report.sealed_rows} sealed rows, "
        f"{report.unsealed_rows} not sealed yet; head digest {report.head_digest.hex()} "
        f"({checked})"
    )
    return 0


async def _archive(settings: Settings, args: argparse.Namespace) -> int:
    cut = cut_of(args.before)
    keys = await load_audit_keys(key_provider(settings), create=False)
    summary = await archive_before(keys, key_provider(settings), cut, args.file, operation_id())
    print(f"archived and dropped: {summary.describe()}")
    return 0


_COMMANDS = {"seal": _seal, "verify": _verify, "archive": _archive}
_WRONG_KEY = "is PHIGATE_MASTER_KEY the one this database was made with?"


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    await db.connect(settings.database_url)
    try:
        return await _COMMANDS[args.audit_command](settings, args)
    except CryptoError as exc:
        print(f"audit key unavailable: {key_failure(exc, _WRONG_KEY)}")
        return 2
    except (RetentionError, BackupError) as exc:
        print(f"FAILED: {exc}")
        return 1
    except FileExistsError:
        print("FAILED: the archive file exists already")
        return 1
    finally:
        await db.disconnect()


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(settings, args))
