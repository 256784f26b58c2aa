"""`phigate documents register FILE... | list`: the trusted documents (persisted queries)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from api import db
from api.clock import SystemClock
from api.document_registry import (
    DocumentError,
    documents_in,
    operation_names,
    register,
    registered,
)
from api.settings import Settings
from schema.build import build_schema


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("documents", help="trusted documents (persisted queries)")
    sub = parser.add_subparsers(dest="documents_command", required=True)
    add = sub.add_parser(
        "register",
        help="register GraphQL files (or Apollo persisted-query manifests, *.json); prints "
        "each document's hash",
    )
    add.add_argument("files", nargs="+", type=Path)
    sub.add_parser("list", help="list registered documents")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"cannot be read ({type(exc).__name__})") from None


async def _register(settings: Settings, args: argparse.Namespace) -> int:
    schema = build_schema(settings.limits, production=settings.production)
    texts: list[tuple[Path, str]] = []
    for path in args.files:
        # Every file is checked before any is stored: a release registers whole or not at all.
        try:
            for text in documents_in(_read(path), manifest=path.suffix == ".json"):
                operation_names(schema, text)
                texts.append((path, text))
        except DocumentError as exc:
            print(f"phigate: {path}: {exc}", file=sys.stderr)
            return 2
    now = SystemClock().now()
    for path, text in texts:
        result = await register(schema, text, now)
        state = "registered" if result.new else "already registered"
        print(f"sha256:{result.sha256}  {' '.join(result.operations)}  ({path}: {state})")
    return 0


async def _list(_: Settings, __: argparse.Namespace) -> int:
    for document in await registered():
        when = document.registered_at.isoformat(timespec="seconds")
        print(f"sha256:{document.sha256}  {when}  {document.operations}")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    handler = {"register": _register, "list": _list}[args.documents_command]

    async def main() -> int:
        async with db.connected(settings.database_url):
            return await handler(settings, args)

    return asyncio.run(main())
