"""OAuth2 state: clients, authorization codes, refresh token families, issued access tokens,
client assertion ids and signing keys. All of it lives in the database, so every worker on every
host sees a revocation or a spent code at once."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.base import PublicModel
from models.people import Organization, Patient, User
from models.vocabulary import Role


class ClientAuthMethod(StrEnum):
    SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method name)
    SECRET_POST = "client_secret_post"  # noqa: S105 (a method name)
    PRIVATE_KEY_JWT = "private_key_jwt"
    NONE = "none"
    """A public client (native or single-page app): it has no secret to keep, so it may use
    only the authorization code grant, with PKCE, and rotating refresh tokens."""


def _owning_client(related_name: str) -> fields.ForeignKeyRelation[OAuthClient]:
    """The client a row was issued to; the row goes with the client's row."""
    return fields.ForeignKeyField(
        "phigate.OAuthClient", related_name=related_name, on_delete=fields.CASCADE
    )


def _acting_user(related_name: str) -> fields.ForeignKeyNullableRelation[User]:
    """The user a token acts for; null when a client acts for itself (client_credentials)."""
    return fields.ForeignKeyField(
        "phigate.User", related_name=related_name, null=True, on_delete=fields.CASCADE
    )


def _launch_patient(related_name: str) -> fields.ForeignKeyNullableRelation[Patient]:
    """The patient a SMART app was launched with (`launch/patient`); patient/ scopes are
    confined to it. Null without that scope."""
    return fields.ForeignKeyField(
        "phigate.Patient", related_name=related_name, null=True, on_delete=fields.CASCADE
    )


def _granted_scope() -> fields.CharField[str]:
    """Space-separated scopes granted, within the client's registered ones."""
    return fields.CharField(max_length=400)


class OAuthClient(PublicModel):
    """A partner system or third-party app. Its public id is its OAuth2 `client_id`."""

    PUBLIC_ID_PREFIX = "cli"
    name = fields.CharField(max_length=200)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "phigate.Organization", related_name="oauth_clients", on_delete=fields.RESTRICT
    )
    role = fields.CharEnumField(Role, max_length=20)
    """The PHI policy row a client_credentials token is judged by (intersected with scopes)."""
    auth_method = fields.CharEnumField(ClientAuthMethod, max_length=30)
    secret_hash = fields.CharField(max_length=64, null=True)
    """SHA-256 of a 256-bit random secret; null for private_key_jwt clients."""
    public_jwk = fields.TextField(null=True)
    """The client's public JWK (JSON) for private_key_jwt. phigate never holds its private key."""
    grant_types = fields.CharField(max_length=200)
    """Space-separated grant types this client may use."""
    redirect_uris = fields.TextField(default="")
    """Space-separated redirect URIs, matched exactly."""
    scopes = fields.CharField(max_length=400)
    """Space-separated scopes this client may be granted."""
    allowed_networks = fields.TextField(null=True)
    """Comma-separated CIDRs this client may call from (token endpoint and /graphql)."""
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_client"


class TokenFamily(PublicModel):
    """All tokens descending from one authorization: the unit that reuse detection revokes."""

    PUBLIC_ID_PREFIX = "tfm"
    client = _owning_client("token_families")
    user = _acting_user("token_families")
    scope = _granted_scope()
    patient = _launch_patient("token_families")
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    """Absolute end of the family: rotating a refresh token never extends it."""
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_token_family"


class AuthorizationCode(Model):
    """A single-use code from the consent step. Only its SHA-256 is stored."""

    id = fields.BigIntField(primary_key=True)
    code_hash = fields.CharField(max_length=64, unique=True)
    client = _owning_client("authorization_codes")
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="authorization_codes", on_delete=fields.CASCADE
    )
    redirect_uri = fields.TextField()
    scope = _granted_scope()
    code_challenge = fields.CharField(max_length=128)
    code_challenge_method = fields.CharField(max_length=10)
    patient = _launch_patient("authorization_codes")
    nonce = fields.CharField(max_length=255, null=True)
    """The OpenID Connect `nonce` of the authorization request, echoed in the id_token."""
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    family: fields.ForeignKeyNullableRelation[TokenFamily] = fields.ForeignKeyField(
        "phigate.TokenFamily", related_name="codes", null=True, on_delete=fields.SET_NULL
    )
    """The tokens this code was exchanged for: revoked if the code is presented again."""

    class Meta:
        table = "oauth_authorization_code"


class RefreshToken(Model):
    """One link in the rotation chain of a family. Only its SHA-256 is stored."""

    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    family: fields.ForeignKeyRelation[TokenFamily] = fields.ForeignKeyField(
        "phigate.TokenFamily", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    """Set when rotated: presenting it again is reuse, and revokes the family."""

    class Meta:
        table = "oauth_refresh_token"


class AccessToken(Model):
    """An issued JWT access token, by `jti`. The JWT itself is never stored.

    Every request checks it here, so a revocation takes effect at once on every worker."""

    id = fields.BigIntField(primary_key=True)
    jti = fields.CharField(max_length=64, unique=True)
    client = _owning_client("access_tokens")
    user = _acting_user("access_tokens")
    family: fields.ForeignKeyNullableRelation[TokenFamily] = fields.ForeignKeyField(
        "phigate.TokenFamily", related_name="access_tokens", null=True, on_delete=fields.CASCADE
    )
    scope = _granted_scope()
    patient = _launch_patient("access_tokens")
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_access_token"


class ClientAssertion(Model):
    """`jti` of each accepted private_key_jwt assertion, so none is accepted twice."""

    id = fields.BigIntField(primary_key=True)
    client = _owning_client("assertions")
    jti = fields.CharField(max_length=200)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "oauth_client_assertion"
        unique_together = (("client", "jti"),)


class SigningKey(Model):
    """A JWT signing key pair. The private half is wrapped by the key provider, like data keys.

    The public half is published at /.well-known/jwks.json under its `kid`."""

    id = fields.BigIntField(primary_key=True)
    kid = fields.CharField(max_length=64, unique=True)
    alg = fields.CharField(max_length=10)
    provider = fields.CharField(max_length=40)
    wrapped = fields.BinaryField()
    public_jwk = fields.TextField()
    created_at = fields.DatetimeField()
    retired_at = fields.DatetimeField(null=True)

    class Meta:
        table = "oauth_signing_key"
