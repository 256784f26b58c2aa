"""Registering, listing and revoking OAuth2 clients (used by `phigate clients`).

A client secret is 256 random bits, shown once and stored as its SHA-256: with that much
entropy a fast hash is enough (nothing to brute-force, unlike a password), and checking it costs
no Argon2 work per token request."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from tortoise.transactions import in_transaction

from api.auth.tokens import digest, new_token
from api.clock import Clock
from api.networks import parse_networks
from api.oauth.store import SECRET_METHODS, client_actor
from audit.events import Actor, OAuthEvent, record_event
from models import AccessToken, ClientAuthMethod, OAuthClient, Organization, TokenFamily
from permissions.roles import Role
from permissions.scopes import ALL_SCOPES, check_scopes
from permissions.smart import ScopeError, request_error

DEFAULT_ROLE = Role.BILLING
"""A partner system's default policy row: identifiers, demographics and diagnoses, no notes
or labs; its scopes narrow it further."""


class ClientError(Exception):
    """A registration that cannot be accepted; the message says why (never a secret)."""


class Grant(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    """A partner system acting for itself, on its organization's patients."""
    AUTHORIZATION_CODE = "authorization_code"
    """A third-party app acting for a consenting user (with PKCE and rotating refresh tokens)."""


_GRANT_TYPES = {
    Grant.CLIENT_CREDENTIALS: "client_credentials",
    Grant.AUTHORIZATION_CODE: "authorization_code refresh_token",
}


@dataclass(frozen=True, slots=True)
class Registration:
    name: str
    organization: str
    """Organization public id."""
    scopes: Sequence[str]
    grant: Grant = Grant.CLIENT_CREDENTIALS
    role: Role = DEFAULT_ROLE
    auth_method: ClientAuthMethod = ClientAuthMethod.SECRET_BASIC
    public_jwk: str | None = None
    redirect_uris: Sequence[str] = ()
    allowed_networks: str | None = None


@dataclass(frozen=True, slots=True)
class Created:
    client: OAuthClient
    secret: str | None
    """Shown once; only its hash is stored. None for private_key_jwt and public clients."""


def _audit_id() -> str:
    return f"cli-{secrets.token_hex(8)}"


def _public_jwk(registration: Registration) -> str | None:
    is_jwt = registration.auth_method is ClientAuthMethod.PRIVATE_KEY_JWT
    if not is_jwt:
        if registration.public_jwk is not None:
            raise ClientError("a public JWK goes with --auth-method private_key_jwt only")
        return None
    if registration.public_jwk is None:
        raise ClientError("private_key_jwt needs the client's public JWK")
    try:
        data: Any = json.loads(registration.public_jwk)
        key = JWKRegistry.import_key(data)
    except (ValueError, TypeError, JoseError):
        raise ClientError("the public JWK is not a valid JWK") from None
    if key.is_private or key.key_type not in {"EC", "OKP", "RSA"}:
        raise ClientError("give the client's public key only (EC, OKP or RSA), never its private")
    return json.dumps(key.as_dict(private=False))


def _check_scopes(registration: Registration) -> None:
    """phigate scopes, or SMART scopes within the grant's context (permissions/smart.py)."""
    if not registration.scopes:
        raise ClientError(f"scopes must be some of: {', '.join(ALL_SCOPES)}, or SMART scopes")
    try:
        check_scopes(registration.scopes)
    except ScopeError as error:
        raise ClientError(str(error)) from None
    person = registration.grant is Grant.AUTHORIZATION_CODE
    outside = request_error(registration.scopes, person=person)
    if outside is not None:
        raise ClientError(outside)


def _check_public(registration: Registration) -> None:
    """A public client proves nothing about itself: it may act only for a consenting user,
    with PKCE binding each code to the app instance that asked for it."""
    if (
        registration.auth_method is ClientAuthMethod.NONE
        and registration.grant is not Grant.AUTHORIZATION_CODE
    ):
        raise ClientError("--auth-method none is for --grant authorization_code only")


def _redirect_uris(registration: Registration) -> str:
    uris = list(registration.redirect_uris)
    if registration.grant is Grant.AUTHORIZATION_CODE and not uris:
        raise ClientError("authorization_code clients need at least one --redirect-uri")
    for uri in uris:
        parts = urlsplit(uri)
        if parts.scheme != "https" or not parts.netloc or parts.fragment or " " in uri:
            raise ClientError("redirect URIs must be absolute https:// URLs without a fragment")
    return " ".join(uris)


MAX_NAME = 200
"""The `oauth_client.name` column's length."""


async def create_client(
    registration: Registration, clock: Clock, actor: Actor | None = None
) -> Created:
    """`actor`: the admin registering it over GraphQL; the command line records the client."""
    if not 1 <= len(registration.name) <= MAX_NAME:
        raise ClientError(f"name must be 1 to {MAX_NAME} characters")
    _check_scopes(registration)
    if registration.allowed_networks:
        try:
            parse_networks(registration.allowed_networks)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
    organization = await Organization.get_or_none(public_id=registration.organization)
    if organization is None:
        raise ClientError("no such organization")
    _check_public(registration)
    public_jwk = _public_jwk(registration)
    secret = new_token() if registration.auth_method in SECRET_METHODS else None
    async with in_transaction():
        client = await OAuthClient.create(
            name=registration.name,
            organization=organization,
            role=registration.role,
            auth_method=registration.auth_method,
            secret_hash=None if secret is None else digest(secret),
            public_jwk=public_jwk,
            grant_types=_GRANT_TYPES[registration.grant],
            redirect_uris=_redirect_uris(registration),
            scopes=" ".join(sorted(set(registration.scopes))),
            allowed_networks=registration.allowed_networks or None,
            created_at=clock.now(),
        )
        await record_event(
            OAuthEvent.CLIENT_CREATED, actor or client_actor(client), at=clock.now(),
            request_id=_audit_id(), ip=None, client=client.public_id,
        )  # fmt: skip
    return Created(client, secret)


async def list_clients() -> list[OAuthClient]:
    return await OAuthClient.all().order_by("id").select_related("organization")


async def revoke_client(client_id: str, clock: Clock, actor: Actor | None = None) -> bool:
    """Revoke a client and every token it holds; False if there is no such live client."""
    client = await OAuthClient.get_or_none(public_id=client_id, revoked_at__isnull=True)
    if client is None:
        return False
    now = clock.now()
    async with in_transaction():
        await record_event(
            OAuthEvent.CLIENT_REVOKED, actor or client_actor(client), at=now,
            request_id=_audit_id(), ip=None, client=client.public_id,
        )  # fmt: skip
        await OAuthClient.filter(id=client.id).update(revoked_at=now)
        await TokenFamily.filter(client_id=client.id, revoked_at__isnull=True).update(
            revoked_at=now
        )
        await AccessToken.filter(client_id=client.id, revoked_at__isnull=True).update(
            revoked_at=now
        )
    return True
