"""`/auth/*`: plain HTTP endpoints, not GraphQL mutations, so no alias or batch can multiply
guesses and any HTTP client can log in. Each step is audited before it takes effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from api.admin.acting import Acting
from api.admin.passwords import change_password
from api.auth import AuthRejected, challenge, client_ip
from api.auth.csrf import csrf_token
from api.auth.password_policy import PasswordRejected
from api.auth.passwords import hash_password, verify_password
from api.auth.sessions import (
    COOKIE,
    Issued,
    Sessions,
    actor_of,
    network_allowed,
    presented_token,
)
from api.auth.throttle import Limits, Throttled, Throttles
from api.auth.tokens import digest
from api.auth.totp import (
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    qr_png_data_uri,
    qr_svg,
    recovery_digest,
)
from api.clock import Clock
from api.decoding import is_json, json_body
from api.settings import Settings
from audit.events import Actor, AuthEvent, record_event
from crypto.keyring import Keyring
from models import AuthSession, Device, Passkey, RecoveryCode, SessionStage, User
from permissions.roles import Role

MAX_PIN_FAILURES = 5
MIN_PIN_DIGITS = 6
_MFA_OPTIONAL = frozenset({Role.PATIENT})


class BadRequest(Exception):
    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


def refusal(error: str, status: int, rejected: str | None = None, **extra: Any) -> JSONResponse:
    """`rejected`: the credentials presented were refused for that reason (a 401's challenge
    names it); a wrong password or code is not a refused token."""
    headers = challenge(rejected) if status == 401 else {}
    if "retry_after" in extra:
        headers["retry-after"] = str(extra["retry_after"])
    return JSONResponse({"error": error, **extra}, status_code=status, headers=headers)


# Longest accepted value per body field: longer ones cannot be right, and must not reach a
# database column (or a log line) at all.
MAX_LENGTH = {
    "username": 150,
    "password": 1024,
    "mfa_token": 64,
    "code": 16,
    "recovery_code": 32,
    "device_id": 40,
    "pin": 64,
    "password_token": 64,
    "current_password": 1024,
    "new_password": 1024,
}


def read_body(request: Request, *names: str) -> dict[str, Any]:
    """The JSON object of the request; each of `names` must be a non-empty string in it, and
    no known field may exceed its MAX_LENGTH."""
    if not is_json(request):
        raise BadRequest("content_type_must_be_json")
    data: dict[str, Any] = json_body(request)  # an object of valid text (api/decoding.py)
    for name in names:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise BadRequest(f"{name}_required")
    for name, limit in MAX_LENGTH.items():
        value = data.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise BadRequest(f"{name}_too_long")
    return data


class AuthRoutes:
    def __init__(self, settings: Settings, clock: Clock, sessions: Sessions) -> None:
        self.settings = settings
        self.clock = clock
        self.sessions = sessions
        self.throttles = Throttles(clock)
        threshold, lockout = settings.lockout_threshold, settings.lockout_duration
        self.user_limits = Limits(threshold, lockout, slow_after=3)
        # One address may be a whole clinic behind NAT: it gets more room than one account.
        self.ip_limits = Limits(threshold * 4, lockout, slow_after=threshold * 2)

    def routes(self) -> list[Route]:
        endpoints: list[tuple[str, Callable[[Request], Awaitable[Response]], list[str]]] = [
            ("/auth/login", self.login, ["POST"]),
            ("/auth/mfa/enrol", self.enrol, ["POST"]),
            ("/auth/mfa", self.mfa, ["POST"]),
            ("/auth/logout", self.logout, ["POST"]),
            ("/auth/session", self.session, ["GET"]),
            ("/auth/devices", self.register_device, ["POST"]),
            ("/auth/unlock", self.unlock, ["POST"]),
            ("/auth/password", self.change_password, ["POST"]),
        ]
        return [Route(path, guarded(fn), methods=methods) for path, fn, methods in endpoints]

    async def audit(self, request: Request, event: AuthEvent, actor: Actor) -> None:
        await record_event(
            event, actor, at=self.clock.now(), request_id=request.state.request_id,
            ip=client_ip(request),
        )  # fmt: skip

    async def login(self, request: Request) -> Response:
        body = read_body(request, "username", "password")
        ip = client_ip(request)
        # Hashed: what was typed as a username may be a password typed in the wrong box.
        user_key, ip_key = f"user:{digest(body['username'].lower())}", f"ip:{ip}"
        await self.throttles.check({user_key: self.user_limits, ip_key: self.ip_limits})
        user = await User.get_or_none(username=body["username"], is_active=True)
        if not verify_password(user.password_hash if user else None, body["password"]):
            actor = actor_of(user) if user else Actor()
            await self.audit(request, AuthEvent.LOGIN_FAILED, actor)
            locked = await self.throttles.failure(user_key, self.user_limits)
            locked |= await self.throttles.failure(ip_key, self.ip_limits)
            if locked:
                await self.audit(request, AuthEvent.LOCKOUT, actor)
            return refusal("invalid_credentials", 401)
        assert user is not None
        if not network_allowed(self.settings, user, ip):
            await self.audit(request, AuthEvent.LOGIN_REFUSED_NETWORK, actor_of(user))
            return refusal("network_not_allowed", 403)
        await self.audit(request, AuthEvent.LOGIN_OK, actor_of(user))
        await self.throttles.clear(user_key)
        if user.must_change_password:
            # A one-time initial password opens nothing but the choice of a new one.
            pending = await self.sessions.start(user, SessionStage.PASSWORD, ip)
            return JSONResponse({"password_change": "required", "password_token": pending.token})
        return await self._second_factor(request, user)

    async def _second_factor(self, request: Request, user: User) -> Response:
        ip = client_ip(request)
        if not user.totp_confirmed and user.role in _MFA_OPTIONAL:
            return self._active(request, await self.sessions.start(user, SessionStage.ACTIVE, ip))
        pending = await self.sessions.start(user, SessionStage.MFA, ip)
        step = "verify" if user.totp_confirmed else "enrol"
        passkeys = await Passkey.filter(user=user).exists()
        return JSONResponse({"mfa": step, "mfa_token": pending.token, "passkeys": passkeys})

    async def change_password(self, request: Request) -> Response:
        """A new password: after a one-time initial one (`password_token` from /auth/login;
        the second factor follows), or from a signed-in session (every other session ends).
        The current password is asked for either way."""
        body = read_body(request, "current_password", "new_password")
        forced = isinstance(body.get("password_token"), str)
        if forced:
            session = await self.sessions.find(body["password_token"], SessionStage.PASSWORD)
            user = session.user
        else:
            session, user = await self.current(request)
        key = f"user:{digest(user.username.lower())}"
        await self.throttles.check({key: self.user_limits})
        if not verify_password(user.password_hash, body["current_password"]):
            await self.audit(request, AuthEvent.LOGIN_FAILED, actor_of(user))
            if await self.throttles.failure(key, self.user_limits):
                await self.audit(request, AuthEvent.LOCKOUT, actor_of(user))
            return refusal("invalid_credentials", 401)
        acting = Acting(actor_of(user), request.state.request_id, client_ip(request), user.id)
        try:
            await change_password(
                acting, user, body["new_password"], self.clock, keep=None if forced else session.id
            )
        except PasswordRejected as exc:
            return refusal("password_rejected", 400, message=str(exc))
        await self.throttles.clear(key)
        if forced:
            return await self._second_factor(request, user)
        return Response(status_code=204)

    async def enrol(self, request: Request) -> Response:
        body = read_body(request, "mfa_token")
        session = await self.sessions.find(body["mfa_token"], SessionStage.MFA)
        user = session.user
        if user.totp_confirmed:
            return refusal("already_enrolled", 409)
        secret = new_secret()
        codes = new_recovery_codes()
        keyring: Keyring = request.app.state.keyring
        user.seal(keyring, totp_secret=secret)
        async with in_transaction():
            await user.save(update_fields=["totp_secret"])
            await RecoveryCode.filter(user=user).delete()
            await RecoveryCode.bulk_create(
                [RecoveryCode(user=user, code_hash=recovery_digest(code)) for code in codes]
            )
        uri = provisioning_uri(secret, user.username)
        return JSONResponse(
            {
                "otpauth_uri": uri,
                "qr_png": qr_png_data_uri(uri),
                "qr_svg": qr_svg(uri),
                "recovery_codes": codes,
            }
        )

    async def mfa(self, request: Request) -> Response:
        body = read_body(request, "mfa_token")
        session = await self.sessions.find(body["mfa_token"], SessionStage.MFA)
        user = session.user

        async def check() -> tuple[bool, AuthEvent | None]:
            recovery = body.get("recovery_code")
            if isinstance(recovery, str) and user.totp_confirmed:
                used = await self._use_recovery_code(user, recovery)
                return used, AuthEvent.RECOVERY_CODE_USED
            return await self._check_totp(request, user, str(body.get("code", ""))), None

        return await self.finish_mfa(request, session, check, confirms_totp=True)

    async def finish_mfa(
        self,
        request: Request,
        session: AuthSession,
        check: Callable[[], Awaitable[tuple[bool, AuthEvent | None]]],
        *,
        confirms_totp: bool,
    ) -> Response:
        """The second factor's common rules, whichever it is (TOTP, recovery code, passkey):
        throttled per account, audited, and a new token for the full session on success.
        `check` says whether the factor was accepted, and what to audit besides MFA_OK."""
        user = session.user
        key = f"mfa:{user.public_id}"
        await self.throttles.check({key: self.user_limits})
        accepted, event = await check()
        if not accepted:
            await self.audit(request, AuthEvent.MFA_FAILED, actor_of(user))
            if await self.throttles.failure(key, self.user_limits):
                await self.audit(request, AuthEvent.LOCKOUT, actor_of(user))
                await self.sessions.revoke(session)
            return refusal("invalid_code", 401)
        if event is not None:
            await self.audit(request, event, actor_of(user))
        if confirms_totp and not user.totp_confirmed:
            await self.audit(request, AuthEvent.MFA_ENROLLED, actor_of(user))
            await User.filter(id=user.id).update(totp_confirmed=True)
        await self.audit(request, AuthEvent.MFA_OK, actor_of(user))
        await self.throttles.clear(key)
        await self.sessions.revoke(session)
        # A new token for the full session: the pre-MFA token never becomes privileged.
        return self._active(
            request, await self.sessions.start(user, SessionStage.ACTIVE, client_ip(request))
        )

    async def _check_totp(self, request: Request, user: User, code: str) -> bool:
        if user.totp_secret is None:
            return False
        keyring: Keyring = request.app.state.keyring
        step = matching_step(
            keyring.open(user.totp_secret), code, self.clock.now(), user.totp_last_step
        )
        if step is None:
            return False
        # Claim the step atomically: two workers racing with one code cannot both accept it.
        claimed = await User.filter(
            Q(id=user.id) & (Q(totp_last_step__isnull=True) | Q(totp_last_step__lt=step))
        ).update(totp_last_step=step)
        return claimed == 1

    async def _use_recovery_code(self, user: User, code: str) -> bool:
        used = await RecoveryCode.filter(
            user=user, code_hash=recovery_digest(code), used_at__isnull=True
        ).update(used_at=self.clock.now())
        return bool(used == 1)

    def _active(self, request: Request, issued: Issued) -> JSONResponse:
        lifetime = self.settings.session_lifetime
        response = JSONResponse(
            {
                "token": issued.token,
                "csrf_token": csrf_token(request.app.state.keyring, issued.token),
                "expires_at": issued.session.expires_at.isoformat(),
                "idle_timeout_seconds": int(self.settings.idle_timeout.total_seconds()),
            }
        )
        response.set_cookie(
            COOKIE,
            issued.token,
            max_age=int(lifetime.total_seconds()),
            path="/",
            secure=True,
            httponly=True,
            samesite="strict",
        )
        return response

    async def current(self, request: Request) -> tuple[AuthSession, User]:
        session = await self.sessions.current(request)
        if session is None:
            raise AuthRejected("missing_credentials")
        return session, session.user

    async def idle_or_live(self, request: Request) -> tuple[AuthSession, User]:
        """The session the bearer token or cookie (with its CSRF header) names, idle or not:
        what an unlock revives."""
        session = await self.sessions.presented(request)
        if session is None:
            raise AuthRejected("missing_credentials")
        return session, session.user

    async def logout(self, request: Request) -> Response:
        """Ends the session, idle or not: a user walking away from an idle screen must be
        able to end it, and an unlock must not revive it after. Ending a session already
        ended is a success too; only an expired or unknown token is refused as such."""
        try:
            session = await self.sessions.presented(request)
        except AuthRejected as exc:
            if exc.reason != "session_revoked":
                raise
        else:
            if session is None:
                raise AuthRejected("missing_credentials")
            await self.audit(request, AuthEvent.LOGOUT, actor_of(session.user))
            await self.sessions.revoke(session)
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
        return response

    async def session(self, request: Request) -> Response:
        """Who is signed in, and the session's CSRF token again: a page reloaded with only
        the cookie reads it here (a page of another origin cannot read this answer)."""
        session, user = await self.current(request)
        token = presented_token(request)
        assert token is not None  # a current session was presented
        return JSONResponse(
            {
                "user": user.public_id,
                "username": user.username,
                "role": user.role.value,
                "expires_at": session.expires_at.isoformat(),
                "csrf_token": csrf_token(request.app.state.keyring, token),
            }
        )

    async def register_device(self, request: Request) -> Response:
        body = read_body(request, "pin")
        _, user = await self.current(request)
        pin = body["pin"]
        if len(pin) < MIN_PIN_DIGITS or not pin.isdigit():
            raise BadRequest("pin_must_be_6_or_more_digits")
        await self.audit(request, AuthEvent.DEVICE_REGISTERED, actor_of(user))
        device = await Device.create(
            user=user, pin_hash=hash_password(pin), created_at=self.clock.now()
        )
        return JSONResponse({"device_id": device.public_id}, status_code=201)

    async def unlock(self, request: Request) -> Response:
        """Revive an idle-expired session with a registered device's PIN (absolute limit holds)."""
        body = read_body(request, "device_id", "pin")
        session, user = await self.idle_or_live(request)
        device = await Device.get_or_none(
            public_id=body["device_id"], user=user, revoked_at__isnull=True
        )
        if device is None:
            return refusal("device_unknown_or_revoked", 401)
        if not verify_password(device.pin_hash, body["pin"]):
            await self.audit(request, AuthEvent.PIN_FAILED, actor_of(user))
            failures = device.failed_pins + 1
            revoked = self.clock.now() if failures >= MAX_PIN_FAILURES else None
            if revoked is not None:
                await self.audit(request, AuthEvent.DEVICE_REVOKED, actor_of(user))
            await Device.filter(id=device.id).update(failed_pins=failures, revoked_at=revoked)
            return refusal("invalid_pin", 401, attempts_left=MAX_PIN_FAILURES - failures)
        await self.audit(request, AuthEvent.SESSION_UNLOCKED, actor_of(user))
        await Device.filter(id=device.id).update(failed_pins=0)
        await self.sessions.resume(session)
        return Response(status_code=204)


def guarded(
    endpoint: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Map expected refusals to clear JSON answers; nothing internal reaches the client."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BadRequest as exc:
            return refusal(exc.error, 400)
        except AuthRejected as exc:
            return refusal(exc.reason, exc.status, rejected=exc.reason)
        except Throttled as exc:
            return refusal(exc.reason, 429, retry_after=exc.retry_after)

    return run
