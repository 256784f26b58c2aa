"""JWT access tokens (RFC 9068 profile): minted with the newest signing key, verified against
exactly one algorithm, issuer, audience, type and the application's clock."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry

from api.auth import AuthRejected
from api.clock import Clock
from api.oauth.signing import ALG, SigningKeys

TYP = "at+jwt"
_TYPES = frozenset({TYP, "application/at+jwt"})
_KID_LENGTH = 43  # an RFC 7638 SHA-256 thumbprint in base64url


def looks_like_jwt(token: str) -> bool:
    """Session tokens are single base64url strings; a compact JWS has three dot-separated parts."""
    return token.count(".") == 2


class AccessTokens:
    def __init__(self, keys: SigningKeys, clock: Clock, issuer: str, lifetime: timedelta) -> None:
        self.keys = keys
        self.clock = clock
        self.issuer = issuer
        self.audience = f"{issuer}/graphql"
        """The resource: a token for anything else is refused here."""
        self.lifetime = lifetime
        essential: ClaimsOption = {"essential": True}
        self._registry = JWTClaimsRegistry(
            now=lambda: int(self.clock.now().timestamp()),
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": self.audience},
            sub=essential,
            client_id=essential,
            jti=essential,
            iat=essential,
            exp=essential,
        )

    def mint(self, client_id: str, subject: str, scope: str) -> str:
        """Synchronous (authlib calls it); the keys must be loaded first (`SigningKeys.ready`)."""
        kid, key = self.keys.signer()
        now = self.clock.now().replace(microsecond=0)
        expires = now + self.lifetime
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "client_id": client_id,
            "scope": scope,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_urlsafe(24),
        }
        header = {"alg": ALG, "typ": TYP, "kid": kid}
        return jwt.encode(header, claims, key, algorithms=[ALG])

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token valid now, or AuthRejected: `token_expired`, else
        `invalid_token` for anything not for this issuer and audience."""
        claims = await self.signed_claims(token)
        try:
            self._registry.validate(claims)
        except ExpiredTokenError:
            raise AuthRejected("token_expired") from None
        except (JoseError, ValueError):
            raise AuthRejected("invalid_token") from None
        return claims

    async def signed_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by one of our keys with ALG and typed at+jwt, or
        AuthRejected(`invalid_token`). Claims (time, audience) are not checked here."""
        try:
            header = jws.extract_compact(token.encode()).headers()
        except (JoseError, ValueError, UnicodeError):
            raise AuthRejected("invalid_token") from None
        kid = header.get("kid")
        if (
            header.get("alg") != ALG
            or str(header.get("typ", "")).lower() not in _TYPES
            or not isinstance(kid, str)
            or len(kid) != _KID_LENGTH
        ):
            raise AuthRejected("invalid_token")
        key = await self.keys.find(kid)
        if key is None:
            raise AuthRejected("invalid_token")
        try:
            return dict(jwt.decode(token, key, algorithms=[ALG]).claims)
        except (JoseError, ValueError):
            raise AuthRejected("invalid_token") from None
