"""The /graphql authenticator: a JWT access token (it has the JWT shape), else a session.

A JWT is checked for signature (ES256 by our keys only), issuer, audience (this resource), type,
time, and then by `jti` in the database on every request: that is what makes a revocation take
effect at once on every worker."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request

from api.auth import AuthRejected, client_ip
from api.auth.sessions import Sessions, bearer_token, network_allowed, user_principal
from api.oauth.service import OAuth
from api.oauth.store import Client, access_token
from api.oauth.tokens import looks_like_jwt
from models import User
from permissions.policy import DEFAULT_PURPOSE, RowScope
from permissions.principal import Principal


class TokenOrSession:
    def __init__(self, oauth: OAuth, sessions: Sessions) -> None:
        self.oauth = oauth
        self.sessions = sessions

    async def __call__(self, request: Request) -> Principal | None:
        token = bearer_token(request)
        if token is None or not looks_like_jwt(token):
            return await self.sessions(request)
        claims = await self.oauth.tokens.verify(token)
        row = await access_token(str(claims["jti"]))
        if row is None:
            raise AuthRejected("invalid_token")
        client, user = row.client, row.user
        if row.revoked_at is not None or client.revoked_at is not None:
            raise AuthRejected("token_revoked")
        ip = client_ip(request)
        if not Client(client).network_allowed(ip) or (
            user is not None and not network_allowed(self.oauth.settings, user, ip)
        ):
            raise AuthRejected("network_not_allowed", status=403)
        if user is not None and not user.is_active:
            raise AuthRejected("token_revoked")
        scopes = frozenset(row.scope.split())
        request_id: str = request.state.request_id
        if user is not None:
            launch: int | None = row.patient_id  # type: ignore[attr-defined]
            return acting_for(user, client.public_id, scopes, request_id, ip=ip, launch=launch)
        # A client acting for itself (client_credentials): its role, over its organization.
        organization_pk: int = client.organization_id  # type: ignore[attr-defined]
        return Principal(
            actor=client.public_id,
            role=client.role,
            purpose=DEFAULT_PURPOSE[client.role],
            request_id=request_id,
            ip=ip,
            client=client.public_id,
            scopes=scopes,
            row_scope=RowScope.ORGANIZATION,
            organization_pk=organization_pk,
        )


def acting_for(
    user: User,
    client: str,
    scopes: frozenset[str],
    request_id: str,
    *,
    ip: str | None = None,
    launch: int | None = None,
) -> Principal:
    """A third-party app (`client`, its public id) acting for a user: the user's role and rows,
    the app's scopes, and the SMART launch patient (`launch`, its database key) if any."""
    principal = user_principal(user, request_id, ip=ip)
    return replace(principal, client=client, scopes=scopes, launch_patient_pk=launch)
