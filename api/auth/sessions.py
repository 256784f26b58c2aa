"""Server-side sessions: creation, the per-request check (the production Authenticator),
idle and absolute expiry, and revocation. All state is in the database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from tortoise.queryset import QuerySet

from api.auth import AuthRejected, client_ip
from api.auth.csrf import csrf_matches
from api.auth.tokens import digest, new_token
from api.clock import Clock
from api.networks import parse_networks, within
from api.settings import Settings
from audit.events import Actor, AuthEvent, record_event
from models import AuthSession, SessionStage, User
from models.compiled import CompiledQueries
from permissions.policy import DEFAULT_PURPOSE
from permissions.principal import Principal

COOKIE = "__Host-phigate-session"
CSRF_HEADER = "x-csrf-token"
MFA_WINDOW = timedelta(minutes=5)
TOUCH_SHARE = 100
TOUCH_MAX = timedelta(seconds=10)
"""How stale `last_seen_at` may get before a request writes it: 1/TOUCH_SHARE of the idle
timeout, at most TOUCH_MAX. Not writing it on every request saves a write per request."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def touch_interval(idle_timeout: timedelta) -> timedelta:
    return min(idle_timeout / TOUCH_SHARE, TOUCH_MAX)


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    session: AuthSession


def actor_of(user: User) -> Actor:
    return Actor(user.public_id, user.role.value)


def user_principal(
    user: User, request_id: str, *, ip: str | None = None, session_id: str | None = None
) -> Principal:
    """A signed-in user's principal, acting for their role's default purpose, in their
    account's organization as loaded with the session (a write needs it: no query then)."""
    return Principal(
        actor=user.public_id,
        role=user.role,
        purpose=DEFAULT_PURPOSE[user.role],
        request_id=request_id,
        ip=ip,
        user_pk=user.id,
        session_id=session_id,
        organization_pk=user.organization_id,  # type: ignore[attr-defined]
    )


def network_allowed(settings: Settings, user: User, ip: str | None) -> bool:
    role_networks = settings.role_networks.get(user.role)
    if role_networks and not within(ip, role_networks):
        return False
    return not user.allowed_networks or within(ip, parse_networks(user.allowed_networks))


class Sessions:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock

    async def start(self, user: User, stage: SessionStage, ip: str | None) -> Issued:
        now = self.clock.now()
        token = new_token()
        lifetime = MFA_WINDOW if stage is SessionStage.MFA else self.settings.session_lifetime
        session = await AuthSession.create(
            token_hash=digest(token),
            user=user,
            stage=stage,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            ip=ip,
        )
        return Issued(token, session)

    async def find(self, token: str, stage: SessionStage) -> AuthSession:
        """A live session of `stage` for this token, or AuthRejected. Idle time is not checked."""
        found = await _BY_TOKEN.select("by_token", _by_token, token_hash=digest(token))
        session = found[0] if found else None
        if session is None or session.stage is not stage or not session.user.is_active:
            raise AuthRejected("invalid_token")
        if session.revoked_at is not None:
            raise AuthRejected("session_revoked")
        if session.expires_at <= self.clock.now():
            raise AuthRejected("session_expired")
        return session

    async def revoke(self, session: AuthSession) -> None:
        await AuthSession.filter(id=session.id).update(revoked_at=self.clock.now())

    async def resume(self, session: AuthSession) -> None:
        await AuthSession.filter(id=session.id).update(
            last_seen_at=self.clock.now(), idle_expired_at=None
        )

    async def __call__(self, request: Request) -> Principal | None:
        """The production Authenticator: bearer token, or cookie plus CSRF header."""
        session = await self.current(request)
        if session is None:
            return None
        return user_principal(
            session.user,
            request.state.request_id,
            ip=client_ip(request),
            session_id=session.public_id,
        )

    async def current(self, request: Request) -> AuthSession | None:
        """The request's live, non-idle session, checked against the network allowlists."""
        session = await self.presented(request)
        if session is None:
            return None
        await self._check_idle(request, session)
        if not network_allowed(self.settings, session.user, client_ip(request)):
            raise AuthRejected("network_not_allowed", status=403)
        return session

    async def presented(self, request: Request) -> AuthSession | None:
        """The session the request's token names, live (not revoked or past its absolute
        lifetime) but whatever its idle time or the caller's network: enough to end it, not
        to use it. A cookie still needs the CSRF header, or any page could log a user out."""
        token = bearer_token(request)
        if token is not None:
            return await self.find(token, SessionStage.ACTIVE)
        token = request.cookies.get(COOKIE)
        if token is None:
            return None
        session = await self.find(token, SessionStage.ACTIVE)
        presented = request.headers.get(CSRF_HEADER)
        if request.method not in _SAFE_METHODS and not csrf_matches(
            request.app.state.keyring, token, presented
        ):
            raise AuthRejected("csrf_token_invalid", status=403)
        return session

    async def _check_idle(self, request: Request, session: AuthSession) -> None:
        """A request not writing `last_seen_at` came at most `touch` after it, so the session
        has been idle for the timeout only once `timeout + touch` has passed since: a session
        in use is never expired early, and an idle one ends at most `touch` late."""
        now, touch = self.clock.now(), touch_interval(self.settings.idle_timeout)
        if now - session.last_seen_at > self.settings.idle_timeout + touch:
            if session.idle_expired_at is None:
                await record_event(
                    AuthEvent.IDLE_EXPIRED,
                    actor_of(session.user),
                    at=now,
                    request_id=request.state.request_id,
                    ip=client_ip(request),
                )
                await AuthSession.filter(id=session.id).update(idle_expired_at=now)
            raise AuthRejected("idle_timeout")
        if now - session.last_seen_at > touch:
            await AuthSession.filter(id=session.id).update(last_seen_at=now)


# Every authenticated request looks its session up: compiled once (see models/compiled.py).
_BY_TOKEN = CompiledQueries(AuthSession)


def _by_token(values: Mapping[str, Any]) -> QuerySet[AuthSession]:
    return AuthSession.filter(token_hash=values["token_hash"]).select_related("user").limit(1)


def bearer_token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def presented_token(request: Request) -> str | None:
    """The session token the request carries: a bearer token, else the cookie."""
    return bearer_token(request) or request.cookies.get(COOKIE)
