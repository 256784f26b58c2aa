"""`phigate backup create | verify | restore`: encrypted, integrity-checked database archives."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from api import db
from api.keys import key_provider
from api.settings import ProviderKind, Settings
from api.startup import key_failure
from crypto.errors import CryptoError
from crypto.provider import KeyProvider
from ops.archive import ArchiveError, read_header
from ops.audit import operation_id
from ops.backup import BackupError, create_backup, restore_backup, verify_backup
from ops.errors import DATABASE_ERRORS
from ops.pg import ToolError
from ops.workdir import sweep

# Refusals with their own fixed, data-free message.
_EXPECTED = (ArchiveError, BackupError, ToolError)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser("backup", help="encrypted database backups")
    sub = backup.add_subparsers(dest="backup_command", required=True)
    create = sub.add_parser("create", help="write an encrypted archive of the database")
    create.add_argument("file", type=Path, help="archive to write (must not exist)")
    verify = sub.add_parser(
        "verify", help="restore an archive into a scratch database and compare it"
    )
    verify.add_argument("file", type=Path)
    restore = sub.add_parser("restore", help="restore an archive into the configured database")
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--force", action="store_true", help="replace a database that already holds data"
    )


class _Deployment:
    """The configured deployment as the backup commands see it (ops.deployment.Deployment)."""

    def __init__(self, settings: Settings) -> None:
        self.database_url = settings.database_url
        self.data_dir = settings.data_dir
        self.pg_bin = settings.pg_bin

    def connected(self) -> contextlib.AbstractAsyncContextManager[None]:
        return db.connected(self.database_url)


def run(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _Deployment(settings)
    provider = key_provider(settings)
    operation = operation_id()
    command = args.backup_command
    for folder in sweep(settings.data_dir):
        print(f"phigate: removed {folder}, left by an interrupted command", file=sys.stderr)
    try:
        if command == "create":
            summary = asyncio.run(create_backup(deployment, provider, args.file, operation))
            print(f"{summary.describe()} -> {args.file}")
        elif command == "verify":
            provider = _archive_provider(settings, args.file, provider)
            summary = asyncio.run(verify_backup(deployment, provider, args.file, operation))
            print(f"{summary.describe()}: verified, every table matches its manifest")
        else:
            provider = _archive_provider(settings, args.file, provider)
            summary = asyncio.run(
                restore_backup(deployment, provider, args.file, operation, args.force)
            )
            print(f"{summary.describe()}: restored; run `phigate migrate` before serving")
    except _EXPECTED as exc:
        print(f"phigate: backup {command}: {exc}", file=sys.stderr)
        return 1
    except CryptoError as exc:
        line = key_failure(exc, "the data keys cannot be unwrapped (wrong master key?)")
        print(f"phigate: backup {command}: {line}", file=sys.stderr)
        return 1
    except FileExistsError:
        print(f"phigate: backup {command}: {args.file} already exists", file=sys.stderr)
        return 1
    except FileNotFoundError:
        print(f"phigate: backup {command}: {args.file} not found", file=sys.stderr)
        return 1
    except DATABASE_ERRORS as exc:
        print(
            f"phigate: backup {command}: database or file error ({type(exc).__name__})",
            file=sys.stderr,
        )
        return 1
    return 0


def _archive_provider(settings: Settings, archive: Path, configured: KeyProvider) -> KeyProvider:
    """The provider that wrapped the archive's key: an archive made before a move to an
    HSM/KMS opens with the old one (its settings, the old master key, must still be set). The
    header is not authenticated yet; a changed name only picks a provider that fails."""
    try:
        with archive.open("rb") as source:
            made_by = read_header(source).fields.get("provider")
        kind = ProviderKind(str(made_by))
    except (OSError, ArchiveError, ValueError):
        return configured  # the command itself reports what is wrong with the file
    return configured if kind.value == configured.name else key_provider(settings, kind)
