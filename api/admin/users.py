"""Accounts: created with a one-time initial password, never deleted and never renamed, so a
username identifies one person for good (HIPAA 164.312(a)(2)(i)). Disabling keeps the account
and its history; every session it holds ends at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from api.admin.acting import Acting, AdminError, Unknown
from api.admin.organizations import organization
from api.admin.sessions import end_sessions
from api.auth.password_policy import initial_password
from api.auth.passwords import hash_password
from api.clock import Clock
from api.networks import parse_networks
from audit.events import AdminEvent
from models import RecoveryCode, User
from permissions.roles import Role
from permissions.tenancy import needs_organization

USERNAME = re.compile(r"[a-z0-9][a-z0-9._@-]{1,149}")
USERNAME_RULE = (
    "A username is 2 to 150 characters: lowercase letters, digits and . _ @ -, "
    "starting with a letter or digit"
)


@dataclass(frozen=True, slots=True)
class Created:
    user: User
    password: str
    """The one-time initial password: shown once, to be changed at first login."""


def _placed(role: Role, organization_pk: int | None) -> None:
    if organization_pk is None and needs_organization(role):
        raise AdminError(
            f"A {role.value} account needs an organization: its patients are an organization's"
        )


def role_named(name: str) -> Role:
    try:
        return Role(name)
    except ValueError:
        raise AdminError(f"Unknown role; one of: {', '.join(r.value for r in Role)}") from None


async def create_user(
    acting: Acting, username: str, role: Role, organization_id: str | None, clock: Clock
) -> Created:
    if USERNAME.fullmatch(username) is None:
        raise AdminError(USERNAME_RULE)
    org = None if organization_id is None else await organization(organization_id)
    # Disabled accounts keep their names: a username is never given to a second person.
    if await User.exists(username=username):
        raise AdminError("That username is taken (usernames are never reused)")
    _placed(role, None if org is None else org.id)
    password = initial_password()
    user = User(
        username=username,
        role=role,
        organization=org,
        password_hash=hash_password(password),
        must_change_password=True,
    )
    async with in_transaction():
        await acting.record(
            AdminEvent.USER_CREATED, clock.now(), user.public_id, detail=f"role={role.value}"
        )
        await user.save()
    return Created(user, password)


async def find_user(name: str) -> User:
    """An account by public id (`usr_...`) or username."""
    query = User.filter(public_id=name) if User.is_public_id(name) else User.filter(username=name)
    found = await query.select_related("organization").first()
    if found is None:
        raise Unknown("No such user")
    return found


async def list_users(role: Role | None = None, active: bool | None = None) -> list[User]:
    query = User.all().select_related("organization").order_by("id")
    if role is not None:
        query = query.filter(role=role)
    if active is not None:
        query = query.filter(is_active=active)
    return await query


def _not_own(acting: Acting, user: User) -> None:
    # One admin alone cannot raise, restore or unlock their own account: that takes another.
    if acting.user_pk is not None and acting.user_pk == user.id:
        raise AdminError("An admin cannot change their own account this way")


async def set_role(acting: Acting, user: User, role: Role, clock: Clock) -> User:
    _not_own(acting, user)
    if user.role is role:
        return user
    _placed(role, user.organization_id)  # type: ignore[attr-defined]
    now = clock.now()
    async with in_transaction():
        await acting.record(
            AdminEvent.ROLE_CHANGED, now, user.public_id,
            detail=f"from={user.role.value} to={role.value}",
        )  # fmt: skip
        await User.filter(id=user.id).update(role=role)
        # A session carries the role it was opened with: the new role starts with a new login.
        await end_sessions(user.id, now, devices=False)
    user.role = role
    return user


async def disable(acting: Acting, user: User, clock: Clock) -> User:
    _not_own(acting, user)
    if not user.is_active:
        return user
    now = clock.now()
    async with in_transaction():
        await acting.record(AdminEvent.USER_DISABLED, now, user.public_id)
        await User.filter(id=user.id).update(is_active=False)
        await end_sessions(user.id, now)
    user.is_active = False
    return user


async def enable(acting: Acting, user: User, clock: Clock) -> User:
    _not_own(acting, user)
    if user.is_active:
        return user
    async with in_transaction():
        await acting.record(AdminEvent.USER_ENABLED, clock.now(), user.public_id)
        await User.filter(id=user.id).update(is_active=True)
    user.is_active = True
    return user


async def reset_mfa(acting: Acting, user: User, clock: Clock) -> User:
    """The next login enrols a new authenticator; the old one, its recovery codes and every
    session stop working now (the usual reason is a lost or stolen phone)."""
    _not_own(acting, user)
    now = clock.now()
    async with in_transaction():
        await acting.record(AdminEvent.MFA_RESET, now, user.public_id)
        await User.filter(id=user.id).update(
            totp_secret=None, totp_confirmed=False, totp_last_step=None
        )
        await RecoveryCode.filter(user_id=user.id).delete()
        await end_sessions(user.id, now)
    user.totp_confirmed = False
    return user


async def logout(acting: Acting, user: User, clock: Clock) -> int:
    """Every session, device and OAuth2 token of the user stops, on every worker."""
    now = clock.now()
    async with in_transaction():
        await acting.record(AdminEvent.SESSIONS_ENDED, now, user.public_id)
        return await end_sessions(user.id, now)


async def set_networks(acting: Acting, user: User, networks: list[str], clock: Clock) -> User:
    """The CIDRs the user may connect from, on top of their role's; empty: no extra limit."""
    value = ",".join(n.strip() for n in networks if n.strip())
    if value:
        try:
            parse_networks(value)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
    async with in_transaction():
        await acting.record(
            AdminEvent.NETWORKS_CHANGED, clock.now(), user.public_id, detail=f"networks={value}"
        )
        await User.filter(id=user.id).update(allowed_networks=value or None)
    user.allowed_networks = value or None  # type: ignore[assignment]
    return user
