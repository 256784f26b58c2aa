"""`phigate users ...`: accounts from the server's command line, to bootstrap the first admin
and to act when no admin can sign in. Acts as `cli:<os user>` in the audit trail."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from api import db
from api.admin import users
from api.admin.acting import Acting, AdminError
from api.clock import SystemClock
from api.settings import Settings
from models import User
from permissions.roles import Role

_ROLES = [r.value for r in Role]


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("users", help="manage staff and patient portal accounts")
    sub = parser.add_subparsers(dest="users_command", required=True)
    create = sub.add_parser("create", help="create an account; prints a one-time password")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=_ROLES)
    create.add_argument("--organization", help="organization public id (org_...)")
    listing = sub.add_parser("list", help="list accounts")
    listing.add_argument("--role", choices=_ROLES)
    listing.add_argument("--disabled", action="store_true", help="disabled accounts only")
    for name, text in _ONE_USER.items():
        one = sub.add_parser(name, help=text)
        one.add_argument("user", help="username or public id (usr_...)")
        if name == "set-role":
            one.add_argument("role", choices=_ROLES)


_ONE_USER = {
    "show": "show one account",
    "disable": "disable an account (kept, with its history); ends its sessions",
    "enable": "enable a disabled account",
    "set-role": "change an account's role; ends its sessions",
    "reset-mfa": "forget the account's authenticator; it enrols again at next login",
    "logout": "end every session, device and token of the account, on every worker",
}


def _line(user: User) -> str:
    org = user.organization.public_id if user.organization else "-"
    status = "active" if user.is_active else "disabled"
    mfa = "mfa" if user.totp_confirmed else "no-mfa"
    return f"{user.public_id}  {status:<8}  {user.role.value:<10}  {mfa:<6}  {org}  {user.username}"


async def _create(args: argparse.Namespace) -> int:
    created = await users.create_user(
        Acting.operator(), args.username, Role(args.role), args.organization, SystemClock()
    )
    print(f"user_id:          {created.user.public_id}")
    print(f"username:         {created.user.username}")
    print(f"initial_password: {created.password}")
    print("The password is shown only now and must be changed at first login,")
    print("after which the user enrols an authenticator app (TOTP).")
    return 0


async def _list(args: argparse.Namespace) -> int:
    role = Role(args.role) if args.role else None
    for user in await users.list_users(role, False if args.disabled else None):
        print(_line(user))
    return 0


async def _show(user: User) -> str:
    networks = user.allowed_networks or "-"
    return "\n".join(
        [
            f"user_id:          {user.public_id}",
            f"username:         {user.username}",
            f"role:             {user.role.value}",
            f"organization:     {user.organization.public_id if user.organization else '-'}",
            f"status:           {'active' if user.is_active else 'disabled'}",
            f"mfa_enrolled:     {'yes' if user.totp_confirmed else 'no'}",
            f"must_change_pw:   {'yes' if user.must_change_password else 'no'}",
            f"allowed_networks: {networks}",
            f"created_at:       {user.created_at.isoformat()}",
        ]
    )


Change = Callable[[Acting, User, SystemClock], Awaitable[object]]
_CHANGES: dict[str, tuple[Change, str]] = {
    "disable": (users.disable, "disabled"),
    "enable": (users.enable, "enabled"),
    "reset-mfa": (users.reset_mfa, "MFA reset; the next login enrols an authenticator"),
    "logout": (users.logout, "every session, device and token ended"),
}


async def _one(args: argparse.Namespace) -> int:
    user = await users.find_user(args.user)
    command = args.users_command
    if command == "show":
        print(await _show(user))
    elif command == "set-role":
        await users.set_role(Acting.operator(), user, users.role_named(args.role), SystemClock())
        print(f"{user.username}: role {args.role}; sessions ended")
    else:
        change, done = _CHANGES[command]
        await change(Acting.operator(), user, SystemClock())
        print(f"{user.username}: {done}")
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    command = args.users_command
    handler = {"create": _create, "list": _list}.get(command, _one)

    async def main() -> int:
        async with db.connected(settings.database_url):
            return await handler(args)

    try:
        return asyncio.run(main())
    except AdminError as exc:
        print(f"phigate: {exc}", file=sys.stderr)
        return 2
