"""Administration for the `admin` role: accounts, organizations, care teams, OAuth2 clients.
Each operation asks the decision point for its capability first; none reads a PHI value (a
patient is found for a care team by blind index and named by public id only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry

from api.admin import care_teams, organizations, users
from api.admin.acting import Acting, AdminError, Unknown
from api.clock import SystemClock
from api.oauth.clients import (
    ClientError,
    Grant,
    Registration,
    create_client,
    list_clients,
    revoke_client,
)
from models import ClientAuthMethod, OAuthClient, Organization, User
from permissions.roles import Capability, Role
from resolvers.pages import connection, newest_first
from schema import admin_types as t
from schema.context import RequestContext
from schema.errors import BadInput, NotFound

T = TypeVar("T")


async def clear(operation: Awaitable[T]) -> T:
    """A refused change as a client error: BAD_USER_INPUT with the reason, or NOT_FOUND."""
    try:
        return await operation
    except Unknown as exc:
        raise NotFound(str(exc)) from None
    except (AdminError, ClientError) as exc:
        raise BadInput(str(exc)) from None


def account(user: User) -> t.Account:
    organization = user.organization.public_id if user.organization else None
    return t.Account(
        id=strawberry.ID(user.public_id),
        username=user.username,
        role=user.role,
        organization=None if organization is None else strawberry.ID(organization),
        active=user.is_active,
        mfa_enrolled=user.totp_confirmed,
        must_change_password=user.must_change_password,
        allowed_networks=_split(user.allowed_networks, ","),
        created_at=user.created_at,
    )


def _split(text: str | None, separator: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(separator) if part.strip()]


def _organization(row: Organization) -> t.Organization:
    return t.Organization(id=strawberry.ID(row.public_id), name=row.name, created_at=row.created_at)


def _client(row: OAuthClient) -> t.OAuthClient:
    return t.OAuthClient(
        id=strawberry.ID(row.public_id),
        name=row.name,
        organization=strawberry.ID(row.organization.public_id),
        role=row.role,
        auth_method=row.auth_method.value,
        grant_types=_split(row.grant_types, None),
        scopes=_split(row.scopes, None),
        redirect_uris=_split(row.redirect_uris, None),
        allowed_networks=_split(row.allowed_networks, ","),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _acting(ctx: RequestContext, capability: Capability) -> Acting:
    ctx.access.person(capability)
    return Acting.of(ctx.principal)


async def _user(user_id: str) -> User:
    if not User.is_public_id(user_id):
        raise NotFound("No such user")
    return await clear(users.find_user(user_id))


async def list_accounts(
    ctx: RequestContext, role: Role | None, active: bool | None, first: int, after: str | None
) -> t.AccountConnection:
    ctx.access.person(Capability.MANAGE_USERS)
    query = User.all().select_related("organization")
    if role is not None:
        query = query.filter(role=role)
    if active is not None:
        query = query.filter(is_active=active)
    return connection(await newest_first(query, first, after), account)


async def one_account(ctx: RequestContext, user_id: str) -> t.Account:
    ctx.access.person(Capability.MANAGE_USERS)
    return account(await _user(user_id))


async def create_account(
    ctx: RequestContext, username: str, role: Role, organization: str | None
) -> t.CreatedAccount:
    acting = _acting(ctx, Capability.MANAGE_USERS)
    created = await clear(users.create_user(acting, username, role, organization, SystemClock()))
    await created.user.fetch_related("organization")
    return t.CreatedAccount(account=account(created.user), initial_password=created.password)


Change = Callable[[Acting, User, SystemClock], Awaitable[object]]


async def change_account(ctx: RequestContext, user_id: str, change: Change) -> t.Account:
    acting = _acting(ctx, Capability.MANAGE_USERS)
    user = await _user(user_id)
    await clear(change(acting, user, SystemClock()))
    return account(await _user(user_id))


async def disable(ctx: RequestContext, user_id: str) -> t.Account:
    return await change_account(ctx, user_id, users.disable)


async def enable(ctx: RequestContext, user_id: str) -> t.Account:
    return await change_account(ctx, user_id, users.enable)


async def reset_mfa(ctx: RequestContext, user_id: str) -> t.Account:
    return await change_account(ctx, user_id, users.reset_mfa)


async def logout(ctx: RequestContext, user_id: str) -> t.Account:
    return await change_account(ctx, user_id, users.logout)


async def set_role(ctx: RequestContext, user_id: str, role: Role) -> t.Account:
    async def to_role(acting: Acting, user: User, clock: SystemClock) -> object:
        return await users.set_role(acting, user, role, clock)

    return await change_account(ctx, user_id, to_role)


async def set_networks(ctx: RequestContext, user_id: str, networks: list[str]) -> t.Account:
    async def to_networks(acting: Acting, user: User, clock: SystemClock) -> object:
        return await users.set_networks(acting, user, networks, clock)

    return await change_account(ctx, user_id, to_networks)


async def list_organizations(ctx: RequestContext) -> list[t.Organization]:
    ctx.access.person(Capability.MANAGE_ORGANIZATIONS)
    return [_organization(row) for row in await organizations.list_organizations()]


async def create_organization(ctx: RequestContext, name: str) -> t.Organization:
    acting = _acting(ctx, Capability.MANAGE_ORGANIZATIONS)
    row = await clear(organizations.create_organization(acting, name, SystemClock()))
    return _organization(row)


async def assign_care_team(ctx: RequestContext, user_id: str, mrn: str) -> t.CareTeamAssignment:
    acting = _acting(ctx, Capability.MANAGE_CARE_TEAMS)
    user = await _user(user_id)
    patient = await ctx.access.care_team_patient("Patient.mrn", mrn, user.organization_id)  # type: ignore[attr-defined]
    row = await clear(care_teams.assign(acting, user, patient, SystemClock()))
    return t.CareTeamAssignment(
        clinician=strawberry.ID(user.public_id),
        patient=strawberry.ID(patient.public_id),
        since=row.started_at,
    )


async def end_care_team(ctx: RequestContext, user_id: str, patient_id: str) -> bool:
    acting = _acting(ctx, Capability.MANAGE_CARE_TEAMS)
    user = await _user(user_id)
    return await clear(care_teams.remove(acting, user, patient_id, SystemClock()))


async def care_team(ctx: RequestContext, user_id: str) -> list[t.CareTeamAssignment]:
    ctx.access.person(Capability.MANAGE_CARE_TEAMS)
    user = await _user(user_id)
    return [
        t.CareTeamAssignment(
            clinician=strawberry.ID(user.public_id), patient=strawberry.ID(patient), since=since
        )
        for patient, since in await care_teams.assignments(user)
    ]


async def oauth_clients(ctx: RequestContext) -> list[t.OAuthClient]:
    ctx.access.person(Capability.MANAGE_CLIENTS)
    return [_client(row) for row in await list_clients()]


def _choice(kind: type[T], value: str, what: str) -> T:
    try:
        return kind(value)  # type: ignore[call-arg]
    except ValueError:
        raise BadInput(f"Unknown {what}") from None


async def create_oauth_client(
    ctx: RequestContext, registration: t.ClientRegistration
) -> t.CreatedClient:
    acting = _acting(ctx, Capability.MANAGE_CLIENTS)
    stated = Registration(
        name=registration.name,
        organization=registration.organization,
        scopes=registration.scopes,
        grant=_choice(Grant, registration.grant, "grant"),
        role=registration.role,
        auth_method=_choice(ClientAuthMethod, registration.auth_method, "auth method"),
        public_jwk=registration.public_jwk,
        redirect_uris=registration.redirect_uris,
        allowed_networks=",".join(registration.allowed_networks) or None,
    )
    created = await clear(create_client(stated, SystemClock(), acting.actor))
    await created.client.fetch_related("organization")
    return t.CreatedClient(client=_client(created.client), client_secret=created.secret)


async def revoke_oauth_client(ctx: RequestContext, client_id: str) -> bool:
    acting = _acting(ctx, Capability.MANAGE_CLIENTS)
    return await revoke_client(client_id, SystemClock(), acting.actor)
