"""`phigate clients create|list|revoke`: manage OAuth2 partner clients."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from api import db
from api.clock import SystemClock
from api.oauth.clients import (
    DEFAULT_ROLE,
    ClientError,
    Grant,
    Registration,
    create_client,
    list_clients,
    revoke_client,
)
from api.settings import Settings
from models import ClientAuthMethod
from permissions.roles import Role
from permissions.scopes import ALL_SCOPES


def add_parser(subparsers: Any) -> None:
    clients = subparsers.add_parser("clients", help="manage OAuth2 partner clients")
    sub = clients.add_subparsers(dest="clients_command", required=True)
    create = sub.add_parser("create", help="register a client; prints its secret once")
    create.add_argument("--name", required=True)
    create.add_argument("--organization", required=True, help="organization public id (org_...)")
    create.add_argument(
        "--scope",
        required=True,
        help=f"space-separated, of: {' '.join(ALL_SCOPES)}, or SMART (user/Condition.rs)",
    )
    create.add_argument(
        "--grant", choices=[g.value for g in Grant], default=Grant.CLIENT_CREDENTIALS.value
    )
    create.add_argument("--role", choices=[r.value for r in Role], default=DEFAULT_ROLE.value)
    create.add_argument(
        "--auth-method",
        choices=[m.value for m in ClientAuthMethod],
        default=ClientAuthMethod.SECRET_BASIC.value,
        help="none: a public client (native or single-page app), --grant authorization_code",
    )
    create.add_argument("--jwk", type=Path, help="file with the client's public JWK (JSON)")
    create.add_argument("--redirect-uri", action="append", default=[], help="repeatable")
    create.add_argument("--allowed-networks", help="comma-separated CIDRs")
    sub.add_parser("list", help="list clients")
    revoke = sub.add_parser("revoke", help="revoke a client and every token it holds")
    revoke.add_argument("client_id")


async def _create(args: argparse.Namespace) -> int:
    jwk = args.jwk.read_text() if args.jwk is not None else None
    created = await create_client(
        Registration(
            name=args.name,
            organization=args.organization,
            scopes=args.scope.split(),
            grant=Grant(args.grant),
            role=Role(args.role),
            auth_method=ClientAuthMethod(args.auth_method),
            public_jwk=jwk,
            redirect_uris=args.redirect_uri,
            allowed_networks=args.allowed_networks,
        ),
        SystemClock(),
    )
    print(f"client_id:     {created.client.public_id}")
    if created.secret is not None:
        print(f"client_secret: {created.secret}")
        print("The secret is shown only now; phigate keeps only its hash.")
    return 0


async def _list(_: argparse.Namespace) -> int:
    for client in await list_clients():
        status = "revoked" if client.revoked_at else "active"
        print(
            f"{client.public_id}  {status:<7}  {client.role.value:<11}  "
            f"{client.auth_method.value:<19}  {client.organization.public_id}  "
            f"[{client.scopes}]  {client.name}"
        )
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    if await revoke_client(args.client_id, SystemClock()):
        print(f"revoked {args.client_id} and its tokens")
        return 0
    print(f"phigate: no active client {args.client_id}", file=sys.stderr)
    return 1


_COMMANDS = {"create": _create, "list": _list, "revoke": _revoke}


def run(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> int:
        await db.connect(settings.database_url)
        try:
            return await _COMMANDS[args.clients_command](args)
        finally:
            await db.disconnect()

    try:
        return asyncio.run(main())
    except (ClientError, OSError) as exc:
        print(f"phigate: {exc}", file=sys.stderr)
        return 2
