"""`phigate import FILE|DIR...`: FHIR R4 Bundles and Bulk Data NDJSON into one organization,
through the API's decision point and write path (interchange/importer.py). The report goes to
stdout, the progress bar to stderr; the exit status is 1 when any entry was not imported."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from api import db
from api.admin.acting import AdminError
from api.admin.organizations import list_organizations, organization
from api.keys import key_provider
from api.settings import Settings
from api.startup import key_failure
from audit.buffer import AuditBuffer
from audit.events import OpsEvent
from audit.writes import AuditedWrites
from crypto.errors import CryptoError
from crypto.keyring import Keyring
from interchange.importer import Report, import_paths
from models.keystore import load_keyring
from ops.audit import OPERATOR, operation_id, record_operation
from ops.progress import Progress
from permissions.decisions import Access
from permissions.errors import PhigateError
from permissions.principal import Principal
from permissions.roles import Purpose, Role
from schema.build import build_schema


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import", help="import FHIR R4 Bundles (.json) and Bulk Data NDJSON (.ndjson)"
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE|DIR")
    parser.add_argument(
        "--organization", help="the organization's id (org_...); needed when there are several"
    )
    parser.add_argument("--dry-run", action="store_true", help="read and validate, write nothing")
    parser.add_argument(
        "--mrn-system",
        help="the identifier system that holds the MRN, for sources without type MR identifiers",
    )


async def import_files(
    keyring: Keyring,
    paths: Sequence[Path],
    organization_pk: int,
    *,
    dry_run: bool = False,
    mrn_system: str | None = None,
    stream: TextIO | None = None,
) -> Report:
    """Import as the command-line operator, and record the run (its counts) in the audit
    trail under the same operation id as each record's own write record."""
    operation = operation_id()
    plans = build_schema().plans
    writes = AuditedWrites()
    accesses: dict[Role, Access] = {}

    def writer(role: Role) -> Access:
        if role not in accesses:
            principal = Principal(
                OPERATOR.public_id,
                role,
                Purpose.OPERATIONS,
                operation,
                organization_pk=organization_pk,
            )
            # Nothing is read: the buffer holds the reads of a request, and an import has none.
            accesses[role] = Access(principal, plans, keyring, AuditBuffer(principal, 0), writes)
        return accesses[role]

    report = await import_paths(
        paths,
        writer,
        organization_pk,
        dry_run=dry_run,
        mrn_system=mrn_system,
        progress=lambda total: Progress("importing", total, stream, unit="resources"),
    )
    await record_operation(
        OpsEvent.RECORDS_IMPORTED, report.summary(), operation=operation, purpose=Purpose.OPERATIONS
    )
    return report


async def _organization_pk(stated: str | None) -> int:
    if stated is not None:
        return int((await organization(stated)).id)
    every = await list_organizations()
    if len(every) != 1:
        raise AdminError(
            "Name the organization: --organization org_... (phigate organizations list)"
        )
    return int(every[0].id)


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    async with db.connected(settings.database_url):
        organization_pk = await _organization_pk(args.organization)
        keyring = await load_keyring(key_provider(settings))
        report = await import_files(
            keyring,
            args.paths,
            organization_pk,
            dry_run=args.dry_run,
            mrn_system=args.mrn_system,
        )
    for line in report.lines():
        print(line)
    return 1 if report.problems else 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(settings, args))
    except AdminError as exc:
        print(f"phigate: import: {exc}", file=sys.stderr)
        return 2
    except CryptoError as exc:
        print(f"phigate: import: {key_failure(exc)}", file=sys.stderr)
        return 2
    except PhigateError as exc:
        # The audit trail could not be written: the import stopped, this patient unwritten.
        print(f"phigate: import stopped: {exc}", file=sys.stderr)
        return 2
