"""The /graphql authenticator: a JWT access token (it has the JWT shape), else a session.

A JWT is checked for signature (ES256 by our keys only), issuer, audience (this resource), type,
time, and then by `jti` in the database on every request: that is what makes a revocation take
effect at once on every worker."""

from __future__ import annotations

from starlette.requests import Request

from api.auth import AuthRejected, client_ip
from api.auth.sessions import Sessions, bearer_token, network_allowed
from api.oauth.service import OAuth
from api.oauth.store import Client, access_token
from api.oauth.tokens import looks_like_jwt
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
        # A third-party app acting for a user: the user's role and rows, the app's scopes.
        # A client acting for itself (client_credentials): its role, over its organization.
        organization_pk: int = client.organization_id  # type: ignore[attr-defined]
        role = client.role if user is None else user.role
        return Principal(
            actor=(user or client).public_id,
            role=role,
            purpose=DEFAULT_PURPOSE[role],
            request_id=request.state.request_id,
            ip=ip,
            user_pk=None if user is None else user.id,
            client=client.public_id,
            scopes=frozenset(row.scope.split()),
            row_scope=RowScope.ORGANIZATION if user is None else None,
            organization_pk=organization_pk if user is None else None,
        )
