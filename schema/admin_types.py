"""GraphQL types of administration. Accounts, organizations, assignments and clients hold
identifiers and non-PHI attributes only: an admin console never receives a PHI value. A proxy
grant's staff-stated reason is the one guarded field (`@phi`), as a break-glass reason is."""

from __future__ import annotations

from datetime import datetime

import strawberry

import models
from permissions.roles import Category, ProxyScope, Role
from permissions.rows import Subject
from schema.audit_types import Connection
from schema.phi import PhiRole, phi

ProxyScopeEnum = strawberry.enum(ProxyScope, name="ProxyScope")


@strawberry.type(name="Account", description="A staff, patient portal or service account.")
class Account:
    id: strawberry.ID
    username: str = strawberry.field(description="Unique for good: never given to another.")
    role: PhiRole  # type: ignore[valid-type]
    organization: strawberry.ID | None
    active: bool
    mfa_enrolled: bool
    must_change_password: bool = strawberry.field(
        description="True until the one-time initial password is replaced at first login."
    )
    allowed_networks: list[str] = strawberry.field(
        description="CIDRs the account may connect from, on top of its role's; empty: no limit."
    )
    created_at: datetime


AccountConnection = Connection[Account]


@strawberry.type(description="An account just created, and its one-time initial password.")
class CreatedAccount:
    account: Account
    initial_password: str = strawberry.field(
        description="Shown once; the first login must replace it, then enrols TOTP."
    )


@strawberry.type(name="Organization")
class Organization:
    id: strawberry.ID
    name: str
    created_at: datetime


@strawberry.type(description="A clinician on a patient's care team (both by public id).")
class CareTeamAssignment:
    clinician: strawberry.ID
    patient: strawberry.ID
    since: datetime


@strawberry.type(name="OAuthClient", description="A partner system or third-party app.")
class OAuthClient:
    id: strawberry.ID = strawberry.field(description="Its OAuth2 client_id.")
    name: str
    organization: strawberry.ID
    role: PhiRole  # type: ignore[valid-type]
    auth_method: str
    grant_types: list[str]
    scopes: list[str]
    redirect_uris: list[str]
    allowed_networks: list[str]
    created_at: datetime
    revoked_at: datetime | None


@strawberry.type(description="A client just registered, and its secret (shown once).")
class CreatedClient:
    client: OAuthClient
    client_secret: str | None = strawberry.field(
        description="Null for private_key_jwt clients; phigate keeps only its hash."
    )


@strawberry.input(description="An OAuth2 client registration, as `phigate clients create`.")
class ClientRegistration:
    name: str
    organization: strawberry.ID
    scopes: list[str]
    grant: str = "client_credentials"
    role: PhiRole = Role.BILLING  # type: ignore[valid-type]
    auth_method: str = "client_secret_basic"
    public_jwk: str | None = None
    redirect_uris: list[str] = strawberry.field(default_factory=list)
    allowed_networks: list[str] = strawberry.field(default_factory=list)


@strawberry.type(description="Someone a patient lets see part of their record.")
class ProxyGrant:
    row: strawberry.Private[models.ProxyGrant]
    subject: strawberry.Private[Subject]

    id: strawberry.ID
    patient: strawberry.ID
    grantee: strawberry.ID
    grantee_username: str
    scope: ProxyScopeEnum  # type: ignore[valid-type]
    expires_at: datetime | None = strawberry.field(description="Null: until revoked.")
    revoked_at: datetime | None
    created_at: datetime
    active: bool
    recorded_by_staff: bool = strawberry.field(
        description="Recorded by front desk for the patient, who asked in person."
    )
    reason: str | None = phi(
        Category.NOTE,
        column="reason",
        description="Why staff recorded it, as they stated it; may hold clinical detail.",
    )
