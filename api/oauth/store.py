"""OAuth2 state in the database, and the objects authlib's server core reads it through.

Every claim of a single-use thing (a code, a refresh token, an assertion id) is one conditional
UPDATE or a unique INSERT, so two workers racing with the same value cannot both win. A code or
refresh token is spent in the transaction that stores the tokens it bought, after every check:
a request refused for the client's mistake (a wider scope, a wrong PKCE verifier) leaves it
for the corrected retry, which is then not mistaken for theft.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from joserfc import jws
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from api.auth import AuthRejected
from api.auth.tokens import digest
from api.clock import Clock
from api.networks import parse_networks, within
from api.oauth.tokens import AccessTokens, looks_like_jwt
from audit.events import Actor, OAuthEvent, record_event
from models import (
    AccessToken,
    AuthorizationCode,
    ClientAssertion,
    ClientAuthMethod,
    OAuthClient,
    Patient,
    RefreshToken,
    TokenFamily,
    User,
)
from models.compiled import CompiledQueries
from permissions.smart import covers

SECRET_METHODS = frozenset({ClientAuthMethod.SECRET_BASIC, ClientAuthMethod.SECRET_POST})
"""Client authentication by a shared secret (256 random bits; only its hash is stored)."""
CODE_LIFETIME = timedelta(minutes=1)
ASSERTION_LEEWAY = timedelta(seconds=30)
"""Clock skew allowed on client assertions' exp."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request came from, for the audit records written on its behalf."""

    request_id: str
    ip: str | None


def client_actor(row: OAuthClient) -> Actor:
    return Actor(row.public_id, row.role.value)


class Client(ClientMixin):  # type: ignore[misc]
    def __init__(self, row: OAuthClient) -> None:
        self.row = row
        self.grant_types = frozenset(row.grant_types.split())
        self.redirect_uris = tuple(row.redirect_uris.split())
        self.scopes = frozenset(row.scopes.split())

    def get_client_id(self) -> str:
        return self.row.public_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """Asking for a scope the client is not registered for refuses the request (None)
        rather than silently narrowing it; asking for none means all registered scopes. A
        SMART scope may be asked for narrower than registered (smart.covers)."""
        requested = set(scope_to_list(scope) or self.scopes)
        allowed = all(name in self.scopes or covers(self.scopes, name) for name in requested)
        return list_to_scope(sorted(requested)) if allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        stored = self.row.secret_hash
        return stored is not None and hmac.compare_digest(stored, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """At the token endpoint, the method the client was registered with. At revocation
        and introspection a secret may come either way, Basic or form: it is the same secret,
        and stock clients (authlib's `revoke_token`) send Basic whatever the client uses at
        the token endpoint; a refused revocation would leave alive a token its holder
        believes dead. Which endpoint takes which methods at all: api/oauth/server.py."""
        registered = self.row.auth_method
        if endpoint != "token" and registered in SECRET_METHODS:
            return method in SECRET_METHODS
        return bool(method == registered.value)

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def network_allowed(self, ip: str | None) -> bool:
        networks = self.row.allowed_networks
        return not networks or within(ip, parse_networks(networks))


@dataclass(frozen=True, slots=True)
class Launch:
    """What a SMART authorization request carries beyond OAuth2: the launch patient the user
    picked (`launch/patient`) and the OpenID Connect nonce."""

    patient_pk: int | None = None
    nonce: str | None = None


class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str | None:
        return self.row.redirect_uri or None

    def get_scope(self) -> str:
        return self.row.scope

    def launch_patient(self) -> Patient | None:
        return self.row.patient


class Refresh(TokenMixin):  # type: ignore[misc]
    """A live refresh token presented for rotation; spent when the new tokens are saved."""

    def __init__(self, row: RefreshToken) -> None:
        self.row = row
        self.family: TokenFamily = row.family

    def check_client(self, client: Client) -> bool:
        return bool(self.family.client_id == client.row.id)  # type: ignore[attr-defined]

    def get_scope(self) -> str:
        return self.family.scope

    def launch_patient(self) -> Patient | None:
        return self.family.patient


@dataclass(slots=True)
class Issued(TokenMixin):  # type: ignore[misc]
    """An access or refresh token found for introspection or revocation."""

    kind: str
    client: OAuthClient
    user: User | None
    """The user the token acts for; None when its client acts for itself."""
    scope: str
    issued_at: datetime
    expires_at: datetime
    revoked: bool
    now: datetime
    access_pk: int | None = None
    family_pk: int | None = None

    @property
    def client_id(self) -> str:
        return self.client.public_id

    @property
    def subject(self) -> str:
        return (self.user or self.client).public_id

    def check_client(self, client: Client) -> bool:
        return bool(self.client.id == client.row.id)

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.revoked


class OAuthStore:
    def __init__(self, clock: Clock, tokens: AccessTokens, refresh_lifetime: timedelta) -> None:
        self.clock = clock
        self.tokens = tokens
        self.refresh_lifetime = refresh_lifetime

    async def audit(
        self, event: OAuthEvent, actor: Actor, client: str | None, origin: Origin
    ) -> None:
        await record_event(
            event, actor, at=self.clock.now(), request_id=origin.request_id, ip=origin.ip,
            client=client,
        )  # fmt: skip

    async def _audit_client(self, event: OAuthEvent, client: Client, origin: Origin) -> None:
        await self.audit(event, client_actor(client.row), client.row.public_id, origin)

    async def client(self, client_id: object) -> Client | None:
        if not isinstance(client_id, str) or not OAuthClient.is_public_id(client_id):
            return None
        row = await OAuthClient.get_or_none(public_id=client_id, revoked_at__isnull=True)
        return None if row is None else Client(row)

    async def save_code(
        self, code: str, client: Client, user: User, redirect_uri: str | None, scope: str,
        challenge: str, method: str, launch: Launch,
    ) -> None:  # fmt: skip
        now = self.clock.now()
        await AuthorizationCode.create(
            code_hash=digest(code),
            client_id=client.row.id,
            user_id=user.id,
            redirect_uri=redirect_uri or "",
            scope=scope,
            code_challenge=challenge,
            code_challenge_method=method,
            patient_id=launch.patient_pk,
            nonce=launch.nonce,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )

    async def find_code(self, code: str, client: Client, origin: Origin) -> Code | None:
        """The live code, not yet spent: a request refused after this (a wrong PKCE verifier
        or redirect URI) leaves it for the client's corrected retry. A code already spent,
        presented again, revokes what it bought."""
        row = await AuthorizationCode.get_or_none(
            code_hash=digest(code), client_id=client.row.id
        ).select_related("user", "patient")
        if row is None:
            return None
        if row.used_at is not None:
            await self._code_reused(row.id, client, origin)
            return None
        if row.expires_at <= self.clock.now() or not row.user.is_active:
            return None
        return Code(row)

    async def _code_reused(self, code_pk: int, client: Client, origin: Origin) -> None:
        await self._audit_client(OAuthEvent.CODE_REUSE_DETECTED, client, origin)
        spent = await AuthorizationCode.get(id=code_pk)
        if spent.family_id is not None:  # type: ignore[attr-defined]
            await self.revoke_family(spent.family_id)  # type: ignore[attr-defined]

    async def find_refresh(self, token: str, client: Client, origin: Origin) -> Refresh | None:
        """The family of a live refresh token, not yet spent (it is rotated only when the new
        tokens are saved). A spent one presented again is reuse: the whole family is revoked."""
        row = await RefreshToken.get_or_none(
            token_hash=digest(token), family__client_id=client.row.id
        ).select_related("family", "family__user", "family__patient")
        if row is None:
            return None
        family = row.family
        if family.revoked_at is not None or family.expires_at <= self.clock.now():
            return None
        if row.used_at is not None:
            await self._refresh_reused(family.id, client, origin)
            return None
        if family.user is None or not family.user.is_active:
            return None
        return Refresh(row)

    async def _refresh_reused(self, family_pk: int, client: Client, origin: Origin) -> None:
        await self._audit_client(OAuthEvent.REFRESH_REUSE_DETECTED, client, origin)
        await self.revoke_family(family_pk)

    async def claim_assertion(self, client_id: str, jti: str, expires: object) -> bool:
        """Record a client assertion's jti; False if it was seen before (a replay)."""
        client = await self.client(client_id)
        if client is None or not isinstance(expires, int | float) or len(jti) > 200:
            return False
        expires_at = datetime.fromtimestamp(expires, UTC)
        try:
            await ClientAssertion.create(client_id=client.row.id, jti=jti, expires_at=expires_at)
        except IntegrityError:
            return False
        # An expired assertion is refused by its exp claim: its jti need not be kept.
        await ClientAssertion.filter(
            client_id=client.row.id, expires_at__lt=self.clock.now() - ASSERTION_LEEWAY
        ).delete()
        return True

    async def save_token(
        self,
        token: dict[str, Any],
        client: Client,
        user: User | None,
        code: Code | None,
        refresh: Refresh | None,
        origin: Origin,
    ) -> bool:
        """Store what was issued, spending the code or refresh token it was issued for in
        the same transaction. False if a concurrent request spent that first: it won, and
        this one is reuse (audited, the winner's tokens revoked) and stores nothing."""
        if await self._store(token, client, user, code, refresh):
            return True
        if code is not None:
            await self._code_reused(code.row.id, client, origin)
        elif refresh is not None:
            await self._refresh_reused(refresh.family.id, client, origin)
        return False

    async def _store(
        self,
        token: dict[str, Any],
        client: Client,
        user: User | None,
        code: Code | None,
        refresh: Refresh | None,
    ) -> bool:
        claims = json.loads(jws.extract_compact(token["access_token"].encode()).payload)
        now = self.clock.now()
        async with in_transaction():
            family = refresh.family if refresh is not None else None
            spent = code.row if code is not None else refresh.row if refresh is not None else None
            if spent is not None and not await _spend(spent, now):
                return False
            if code is not None:
                family = await TokenFamily.create(
                    client_id=client.row.id,
                    user_id=code.row.user_id,  # type: ignore[attr-defined]
                    scope=claims["scope"],
                    patient_id=code.row.patient_id,  # type: ignore[attr-defined]
                    created_at=now,
                    expires_at=now + self.refresh_lifetime,
                )
                await AuthorizationCode.filter(id=code.row.id).update(family_id=family.id)
            if "refresh_token" in token and family is not None:
                await RefreshToken.create(
                    token_hash=digest(token["refresh_token"]), family=family, created_at=now
                )
            await AccessToken.create(
                jti=claims["jti"],
                client_id=client.row.id,
                user_id=None if user is None else user.id,
                family=family,
                scope=claims["scope"],
                patient_id=None if family is None else family.patient_id,  # type: ignore[attr-defined]
                issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        return True

    async def find(self, token: str) -> Issued | None:
        """An access token (by its signed jti) or a refresh token (by its hash), whatever the
        request's `token_type_hint` says: RFC 7009 2.1 and RFC 7662 2.1 make the hint only a
        hint, and a token revoked "as the wrong type" must still die. The two kinds cannot be
        confused: an access token is a compact JWS, a refresh token a single base64url string,
        so the token's shape says which table to look in."""
        if looks_like_jwt(token):
            try:
                claims = await self.tokens.signed_claims(token)
            except AuthRejected:
                return None
            return await self._access(str(claims.get("jti", "")))
        return await self._refresh(token)

    async def _access(self, jti: str) -> Issued | None:
        row = await access_token(jti)
        if row is None:
            return None
        return Issued(
            kind="access_token",
            client=row.client,
            user=row.user,
            scope=row.scope,
            issued_at=row.issued_at,
            expires_at=row.expires_at,
            revoked=row.revoked_at is not None or row.client.revoked_at is not None,
            now=self.clock.now(),
            access_pk=row.id,
        )

    async def _refresh(self, token: str) -> Issued | None:
        row = await RefreshToken.get_or_none(token_hash=digest(token)).select_related(
            "family", "family__client", "family__user"
        )
        if row is None:
            return None
        family = row.family
        return Issued(
            kind="refresh_token",
            client=family.client,
            user=family.user,
            scope=family.scope,
            issued_at=row.created_at,
            expires_at=family.expires_at,
            revoked=row.used_at is not None or family.revoked_at is not None,
            now=self.clock.now(),
            family_pk=family.id,
        )

    async def revoke(self, issued: Issued) -> None:
        """An access token alone; a refresh token with its family and every token from it."""
        if issued.family_pk is not None:
            await self.revoke_family(issued.family_pk)
        elif issued.access_pk is not None:
            await AccessToken.filter(id=issued.access_pk, revoked_at__isnull=True).update(
                revoked_at=self.clock.now()
            )

    async def revoke_family(self, family_pk: int) -> None:
        now = self.clock.now()
        async with in_transaction():
            await TokenFamily.filter(id=family_pk, revoked_at__isnull=True).update(revoked_at=now)
            await AccessToken.filter(family_id=family_pk, revoked_at__isnull=True).update(
                revoked_at=now
            )


async def _spend(row: AuthorizationCode | RefreshToken, now: datetime) -> bool:
    """Mark a single-use row used: one conditional UPDATE, so of two requests racing with
    it (on any workers) exactly one wins."""
    spent = await type(row).filter(id=row.id, used_at__isnull=True).update(used_at=now)
    return bool(spent == 1)


# Every partner request looks its token up (revocation at once on every worker): compiled once.
_BY_JTI = CompiledQueries(AccessToken)


def _by_jti(values: Mapping[str, Any]) -> QuerySet[AccessToken]:
    return AccessToken.filter(jti=values["jti"]).select_related("client", "user").limit(1)


async def access_token(jti: str) -> AccessToken | None:
    """An issued access token by `jti`, with its client and user."""
    found = await _BY_JTI.select("by_jti", _by_jti, jti=jti)
    return found[0] if found else None
