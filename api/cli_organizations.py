"""`phigate organizations create|list`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from api import db
from api.admin.acting import Acting, AdminError
from api.admin.organizations import create_organization, list_organizations
from api.clock import SystemClock
from api.settings import Settings


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("organizations", help="manage organizations")
    sub = parser.add_subparsers(dest="organizations_command", required=True)
    create = sub.add_parser("create", help="create an organization; prints its id")
    create.add_argument("--name", required=True)
    sub.add_parser("list", help="list organizations")


async def _create(args: argparse.Namespace) -> int:
    org = await create_organization(Acting.operator(), args.name, SystemClock())
    print(f"organization_id: {org.public_id}")
    return 0


async def _list(_: argparse.Namespace) -> int:
    for org in await list_organizations():
        print(f"{org.public_id}  {org.name}")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    handler = {"create": _create, "list": _list}[args.organizations_command]

    async def main() -> int:
        async with db.connected(settings.database_url):
            return await handler(args)

    try:
        return asyncio.run(main())
    except AdminError as exc:
        print(f"phigate: {exc}", file=sys.stderr)
        return 2
