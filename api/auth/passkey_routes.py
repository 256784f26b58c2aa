"""`/auth/passkeys*`, `/auth/mfa/passkey*`, `/auth/unlock/passkey*`: register, list and remove
one's passkeys, and use one as the second factor or to unlock an idle session. Each ceremony
is two calls: options (a fresh challenge, kept on the session and usable once), then the
browser's signed answer. Throttling, audit and the session rules are AuthRoutes' own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from webauthn.helpers import bytes_to_base64url

from api.auth.passkeys import PasskeyRefused, RelyingParty
from api.auth.routes import AuthRoutes, BadRequest, guarded, read_body, refusal
from api.auth.sessions import actor_of
from audit.events import AuthEvent
from models import AuthSession, Passkey, SessionStage, User

MAX_NAME = 100


def _credential(body: dict[str, Any]) -> dict[str, Any]:
    credential = body.get("credential")
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise BadRequest("credential_required")
    return credential


async def _keep(session: AuthSession, challenge: str) -> None:
    await AuthSession.filter(id=session.id).update(passkey_challenge=challenge)


async def _take(session: AuthSession) -> str:
    """The session's outstanding challenge, claimed atomically: an answer is checked once."""
    challenge = session.passkey_challenge
    if challenge is None:
        raise PasskeyRefused
    taken = await AuthSession.filter(id=session.id, passkey_challenge=challenge).update(
        passkey_challenge=None
    )
    if taken != 1:
        raise PasskeyRefused
    return challenge


class PasskeyRoutes:
    def __init__(self, auth: AuthRoutes) -> None:
        self.auth = auth
        self.party = RelyingParty(auth.settings.webauthn_origin)

    def routes(self) -> list[Route]:
        endpoints: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
            ("/auth/passkeys/options", self.registration_options, ["POST"]),
            ("/auth/passkeys", self.register, ["POST"]),
            ("/auth/passkeys", self.listing, ["GET"]),
            ("/auth/passkeys/{passkey}", self.remove, ["DELETE"]),
            ("/auth/mfa/passkey/options", self.mfa_options, ["POST"]),
            ("/auth/mfa/passkey", self.mfa, ["POST"]),
            ("/auth/unlock/passkey/options", self.unlock_options, ["POST"]),
            ("/auth/unlock/passkey", self.unlock, ["POST"]),
        ]
        return [Route(path, guarded(fn), methods=methods) for path, fn, methods in endpoints]

    async def registration_options(self, request: Request) -> Response:
        session, user = await self.auth.current(request)
        existing = await Passkey.filter(user=user)
        options, challenge = self.party.registration_options(user, existing)
        await _keep(session, challenge)
        return JSONResponse(options)

    async def register(self, request: Request) -> Response:
        body = read_body(request)
        session, user = await self.auth.current(request)
        credential = _credential(body)
        name = body.get("name") if isinstance(body.get("name"), str) else None
        name = (name or "Passkey").strip()[:MAX_NAME] or "Passkey"
        try:
            verified = self.party.verify_registration(credential, await _take(session))
        except PasskeyRefused:
            await self.auth.audit(request, AuthEvent.PASSKEY_FAILED, actor_of(user))
            return refusal("passkey_refused", 400)
        await self.auth.audit(request, AuthEvent.PASSKEY_REGISTERED, actor_of(user))
        passkey = await Passkey.create(
            user=user,
            credential_id=credential["id"],
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            name=name,
            created_at=self.auth.clock.now(),
        )
        return JSONResponse(_shown(passkey), status_code=201)

    async def listing(self, request: Request) -> Response:
        _, user = await self.auth.current(request)
        passkeys = await Passkey.filter(user=user).order_by("created_at")
        return JSONResponse({"passkeys": [_shown(p) for p in passkeys]})

    async def remove(self, request: Request) -> Response:
        _, user = await self.auth.current(request)
        passkey = await Passkey.get_or_none(public_id=request.path_params["passkey"], user=user)
        if passkey is None:
            return refusal("passkey_unknown", 404)
        await self.auth.audit(request, AuthEvent.PASSKEY_REMOVED, actor_of(user))
        await passkey.delete()
        return Response(status_code=204)

    async def _options(self, session: AuthSession, user: User) -> Response:
        passkeys = await Passkey.filter(user=user)
        if not passkeys:
            return refusal("no_passkeys", 409)
        options, challenge = self.party.authentication_options(passkeys)
        await _keep(session, challenge)
        return JSONResponse(options)

    async def _asserted(self, request: Request, session: AuthSession, body: dict[str, Any]) -> bool:
        """Whether the browser's assertion signs this session's challenge with one of the
        user's passkeys, with a grown sign counter (claimed atomically). Failures audited."""
        user = session.user
        credential = _credential(body)
        passkey = await Passkey.get_or_none(user=user, credential_id=credential["id"])
        try:
            if passkey is None:
                raise PasskeyRefused
            count = self.party.verify_authentication(credential, await _take(session), passkey)
            claimed = await Passkey.filter(id=passkey.id, sign_count=passkey.sign_count).update(
                sign_count=count, last_used_at=self.auth.clock.now()
            )
            if claimed != 1:
                raise PasskeyRefused
        except PasskeyRefused:
            await self.auth.audit(request, AuthEvent.PASSKEY_FAILED, actor_of(user))
            return False
        return True

    async def mfa_options(self, request: Request) -> Response:
        body = read_body(request, "mfa_token")
        session = await self.auth.sessions.find(body["mfa_token"], SessionStage.MFA)
        return await self._options(session, session.user)

    async def mfa(self, request: Request) -> Response:
        body = read_body(request, "mfa_token")
        session = await self.auth.sessions.find(body["mfa_token"], SessionStage.MFA)

        async def check() -> tuple[bool, AuthEvent | None]:
            return await self._asserted(request, session, body), AuthEvent.PASSKEY_USED

        return await self.auth.finish_mfa(request, session, check, confirms_totp=False)

    async def unlock_options(self, request: Request) -> Response:
        session, user = await self.auth.idle_or_live(request)
        return await self._options(session, user)

    async def unlock(self, request: Request) -> Response:
        """Revive an idle session with a passkey instead of a PIN (absolute limit holds)."""
        body = read_body(request)
        session, user = await self.auth.idle_or_live(request)
        key = f"unlock:{user.public_id}"
        await self.auth.throttles.check({key: self.auth.user_limits})
        if not await self._asserted(request, session, body):
            if await self.auth.throttles.failure(key, self.auth.user_limits):
                await self.auth.audit(request, AuthEvent.LOCKOUT, actor_of(user))
                await self.auth.sessions.revoke(session)
            return refusal("passkey_refused", 401)
        await self.auth.audit(request, AuthEvent.PASSKEY_USED, actor_of(user))
        await self.auth.audit(request, AuthEvent.SESSION_UNLOCKED, actor_of(user))
        await self.auth.throttles.clear(key)
        await self.auth.sessions.resume(session)
        return Response(status_code=204)


def _shown(passkey: Passkey) -> dict[str, Any]:
    return {
        "id": passkey.public_id,
        "name": passkey.name,
        "created_at": passkey.created_at.isoformat(),
        "last_used_at": passkey.last_used_at.isoformat() if passkey.last_used_at else None,
    }
