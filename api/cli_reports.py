"""`phigate reports tally`: bring the report tally up to date by hand (ops/tally.py)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from api import db
from api.keys import key_provider
from api.settings import Settings
from api.startup import key_failure
from crypto.errors import CryptoError
from models.keystore import load_keyring
from ops.tally import bring_up_to_date, rebuild
from permissions.deidentify import report_date


def add_parser(subparsers: Any) -> None:
    reports = subparsers.add_parser("reports", help="maintain what reports are counted from")
    commands = reports.add_subparsers(dest="reports_command", required=True)
    tally = commands.add_parser(
        "tally",
        help="take settled write records into the report tally now (building it if needed)",
    )
    tally.add_argument(
        "--rebuild",
        action="store_true",
        help="count every patient again (after loading data other than through phigate)",
    )


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    await db.connect(settings.database_url)
    try:
        keyring = await load_keyring(key_provider(settings))
        today = report_date()
        built = await rebuild(keyring, today) if args.rebuild else None
        built = await bring_up_to_date(keyring, today) or built
    except CryptoError as exc:
        line = key_failure(exc, "the data keys cannot be unwrapped (wrong master key?)")
        print(f"phigate: {line}", file=sys.stderr)
        return 1
    finally:
        await db.disconnect()
    if built is not None:
        print(f"rebuilt: {built.patients} patients, {built.cells} cells, {built.seconds:.1f} s")
    print("report tally up to date")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(_run(settings, args))
