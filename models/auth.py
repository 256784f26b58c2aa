"""Authentication state. It lives in the database so every worker on every host sees a logout,
a lockout or a revoked device at once."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.base import PublicModel
from models.people import User


class SessionStage(StrEnum):
    MFA = "mfa"
    """Password accepted, second factor outstanding: grants nothing but /auth/mfa."""
    ACTIVE = "active"
    PASSWORD = "password"  # noqa: S105 (a stage name)
    """Password accepted but it is a one-time initial password: grants nothing but
    /auth/password, where a new one is chosen before the second factor."""


class AuthSession(PublicModel):
    """A login session. Only the SHA-256 of its 256-bit token is stored; its CSRF token is
    derived from the token (api/auth/csrf.py), so it is not stored at all."""

    PUBLIC_ID_PREFIX = "ses"
    token_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="sessions", on_delete=fields.CASCADE
    )
    stage = fields.CharEnumField(SessionStage, max_length=10)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    idle_expired_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    ip = fields.CharField(max_length=64, null=True)
    passkey_challenge = fields.CharField(max_length=128, null=True)
    """The WebAuthn challenge this session was last given, until it is answered (once)."""

    class Meta:
        table = "auth_session"


class Passkey(PublicModel):
    """A WebAuthn credential: its public key (nothing secret) and the last sign counter seen,
    which must grow with each use (a cloned authenticator repeats an old one)."""

    PUBLIC_ID_PREFIX = "pkey"
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="passkeys", on_delete=fields.CASCADE
    )
    credential_id = fields.CharField(max_length=1400, unique=True)
    """base64url, as the browser names it."""
    public_key = fields.TextField()
    """COSE public key, base64url."""
    sign_count = fields.BigIntField(default=0)
    name = fields.CharField(max_length=100)
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "passkey"


class RecoveryCode(Model):
    """Single-use MFA recovery codes, stored as SHA-256 (they carry 80 random bits)."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="recovery_codes", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recovery_code"


class Device(PublicModel):
    """A mobile device registered after a full login. Its PIN can unlock an idle session."""

    PUBLIC_ID_PREFIX = "dev"
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="devices", on_delete=fields.CASCADE
    )
    pin_hash = fields.CharField(max_length=255)
    failed_pins = fields.IntField(default=0)
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "device"


class Throttle(Model):
    """Failed attempts per key: `user:<SHA-256 of the name>`, `ip:<addr>` or `mfa:<user id>`.

    Kept whether or not the named account exists, so throttling reveals nothing about which
    usernames are real, and hashed, so a password typed as a username is never stored."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(max_length=200, unique=True)
    failures = fields.IntField(default=0)
    last_failure_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "throttle"
