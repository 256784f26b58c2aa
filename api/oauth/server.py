"""authlib's OAuth2 server core wired to phigate: grants, client authentication, PKCE (S256
only), introspection and revocation. Everything here is synchronous and runs in a worker thread;
database access goes through `bridge.wait` to the async store."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key

from api.auth.tokens import new_token
from api.oauth.bridge import wait
from api.oauth.id_tokens import fhir_user, mint_id_token
from api.oauth.store import (
    ASSERTION_LEEWAY,
    Client,
    Code,
    Issued,
    Launch,
    OAuthStore,
    Origin,
    Refresh,
)
from api.oauth.tokens import AccessTokens
from models import ClientAuthMethod, User
from permissions.scopes import ALL_SCOPES, check_scopes
from permissions.smart import LaunchScope, ScopeError, request_error

AUTH_METHODS = [method.value for method in ClientAuthMethod]
"""Token endpoint: each client by the method it was registered with (Client.check_endpoint_
auth_method); public clients (`none`) only for the grants a user consents to."""
CONFIDENTIAL_METHODS = [m for m in AUTH_METHODS if m != ClientAuthMethod.NONE]
INTROSPECTION_METHODS = CONFIDENTIAL_METHODS
"""Introspection is for confidential clients: a public client's client_id proves nothing."""
REVOCATION_METHODS = AUTH_METHODS
"""Revocation is open to public clients (RFC 7009 2.1): only a token's holder can name it,
and ending a token is always safe."""
CLIENT_ASSERTION_ALGS = ["ES256", "EdDSA", "Ed25519", "RS256", "PS256"]
"""Asymmetric only: a client assertion is checked against the client's public key."""
PKCE_METHOD = "S256"
MAX_NONCE = 255
"""The `oauth_authorization_code.nonce` column's length."""


class NetworkNotAllowed(OAuth2Error):  # type: ignore[misc]
    error = "access_denied"
    description = "network_not_allowed"
    status_code = 403


class Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in pairs:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):  # type: ignore[misc]
    """An HTTP request already read by the async side: query and form pairs, headers, origin."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: Sequence[tuple[str, str]],
        form: Sequence[tuple[str, str]],
        origin: Origin,
        ip: str | None,
    ) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = Payload([*query, *form])
        self._args = dict(query)
        self._form = dict(form)
        self.origin = origin
        self.ip = ip
        self.launch_patient: int | None = None
        """The patient the user picked on the consent page (`launch/patient`)."""

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


Response = tuple[int, Any, list[tuple[str, str]]]


class Server(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, store: OAuthStore, tokens: AccessTokens, issuer: str) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.store = store
        self.fhir_base = f"{issuer}/fhir"
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=self._mint,
                refresh_token_generator=lambda **_: new_token(),
                expires_generator=lambda *_: int(tokens.lifetime.total_seconds()),
            ),
        )
        self.tokens = tokens
        self.register_client_auth_method(
            ClientAuthMethod.PRIVATE_KEY_JWT.value, PrivateKeyJWT(store, issuer)
        )
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(AuthorizationCodeGrant, [S256Only(required=True)])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    def _mint(self, client: Client, grant_type: str, user: User | None, scope: str) -> str:
        subject = user.public_id if user is not None else client.get_client_id()
        return self.tokens.mint(client.get_client_id(), subject, scope)

    def query_client(self, client_id: str) -> Client | None:
        return wait(self.store.client, client_id)

    def save_token(self, token: dict[str, Any], request: Request) -> None:
        saved = wait(
            self.store.save_token, token, request.client, request.user,
            request.authorization_code, request.refresh_token, request.origin,
        )  # fmt: skip
        if not saved:
            # A concurrent request spent the same code or refresh token first: the minted
            # token was never stored, so it authenticates nothing.
            raise InvalidGrantError()
        self._launch_context(token, request)

    def _launch_context(self, token: dict[str, Any], request: Request) -> None:
        """SMART additions to the token response: the launch patient's public id, and an
        id_token (with `openid`) naming the user, with `fhirUser` if asked for."""
        held: Code | Refresh | None = request.authorization_code or request.refresh_token
        patient = None if held is None else held.launch_patient()
        if patient is not None:
            token["patient"] = patient.public_id
        scopes = scope_to_list(token.get("scope")) or []
        user: User | None = request.user
        if user is None or LaunchScope.OPENID.value not in scopes:
            return
        who = None
        if LaunchScope.FHIR_USER.value in scopes:
            who = wait(fhir_user, user, self.fhir_base)
        nonce = held.row.nonce if isinstance(held, Code) else None
        token["id_token"] = mint_id_token(
            self.tokens, request.client.get_client_id(), user, nonce, who
        )

    def validate_requested_scope(self, scope: str | None) -> None:
        """Every scope a phigate scope or a grantable SMART scope (smart.py's grammar); a
        refusal names the scope and why."""
        try:
            check_scopes(scope_to_list(scope) or [])
        except ScopeError as error:
            raise InvalidScopeError(description=str(error)) from None

    def authenticate_client(
        self, request: Request, methods: list[str], endpoint: str = "token"
    ) -> Client:
        client: Client = super().authenticate_client(request, methods, endpoint)
        if not client.network_allowed(request.ip):
            raise NetworkNotAllowed()
        return client

    def create_oauth2_request(self, request: Request) -> Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        return status, body, headers

    def send_signal(self, name: str, *args: object, **kwargs: object) -> None:
        """Outcomes are audited by the HTTP side, which sees every response."""


class _Stored:
    """Typed access to the store for authlib classes (which are untyped)."""

    server: Server

    @property
    def store(self) -> OAuthStore:
        return self.server.store


class _SmartContexts:
    """SMART scopes are granted only in their context: patient/, user/ and launch scopes to
    an app a user consents to, system/ scopes to a client acting for itself."""

    request: Request
    server: Server
    PERSON: ClassVar[bool]

    def validate_requested_scope(self) -> None:
        scope = self.request.payload.scope
        self.server.validate_requested_scope(scope)
        error = request_error(scope_to_list(scope) or [], person=self.PERSON)
        if error is not None:
            raise InvalidScopeError(description=error)


class ClientCredentialsGrant(_SmartContexts, grants.ClientCredentialsGrant):  # type: ignore[misc]
    # A public client is never registered for this grant; and were it, it could not use it.
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS
    PERSON = False


class AuthorizationCodeGrant(_Stored, _SmartContexts, grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    PERSON = True

    def save_authorization_code(self, code: str, request: Request) -> None:
        data = request.payload.data
        nonce = data.get("nonce")
        if nonce is not None and len(nonce) > MAX_NONCE:
            raise InvalidRequestError(f"'nonce' may be at most {MAX_NONCE} characters")
        wait(
            self.store.save_code, code, request.client, request.user,
            request.payload.redirect_uri, request.scope, data["code_challenge"],
            data["code_challenge_method"], Launch(request.launch_patient, nonce),
        )  # fmt: skip

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        return wait(self.store.find_code, code, client, self.request.origin)

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing to do: the code was spent atomically with saving the tokens it bought."""

    def authenticate_user(self, authorization_code: Code) -> User:
        return authorization_code.row.user


class RefreshTokenGrant(_Stored, grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Refresh | None:
        return wait(
            self.store.find_refresh, refresh_token, self.request.client,
            self.request.origin,
        )  # fmt: skip

    def authenticate_user(self, refresh_token: Refresh) -> User | None:
        return refresh_token.family.user

    def revoke_old_credential(self, refresh_token: Refresh) -> None:
        """Nothing to do: the old token was spent atomically with saving its successor."""


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE is required on every authorization request, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = [PKCE_METHOD]
    DEFAULT_CODE_CHALLENGE_METHOD = PKCE_METHOD

    def validate_code_challenge(self, grant: AuthorizationCodeGrant, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != PKCE_METHOD:
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 client assertions signed with the client's private key (phigate holds only
    the public JWK); aud must be this token endpoint, and each jti is accepted once."""

    CLIENT_AUTH_METHOD = ClientAuthMethod.PRIVATE_KEY_JWT.value

    def __init__(self, store: OAuthStore, issuer: str) -> None:
        super().__init__(leeway=int(ASSERTION_LEEWAY.total_seconds()))
        self.store = store
        self.issuer = issuer

    def get_audiences(self) -> list[str]:
        return [f"{self.issuer}/oauth/token", self.issuer]

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        return wait(self.store.claim_assertion, claims["sub"], str(jti), claims["exp"])

    def resolve_client_public_key(self, client: Client) -> dict[str, Any]:
        if client.row.public_jwk is None:
            raise InvalidClientError(description="client has no public key")
        key: dict[str, Any] = json.loads(client.row.public_jwk)
        return key

    def process_assertion_claims(self, assertion: str, resolve_key: Key) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=CLIENT_ASSERTION_ALGS)
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="invalid client assertion") from exc
        self.verify_claims(token.claims)
        return dict(token.claims)


class _TokenLookup(_Stored):
    """Shared by introspection and revocation: both find tokens the same way."""

    def query_token(self, token_string: str, token_type_hint: str | None) -> Issued | None:
        """The hint is not used: the store finds either kind of token (see OAuthStore.find)."""
        return wait(self.store.find, token_string)


class Introspection(_TokenLookup, IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = INTROSPECTION_METHODS

    def check_permission(self, token: Issued, client: Client, request: Request) -> bool:
        """A client may introspect only the tokens issued to it."""
        return token.check_client(client)

    def introspect_token(self, token: Issued) -> dict[str, Any]:
        return {
            "active": True,
            "token_type": token.kind,
            "client_id": token.client_id,
            "sub": token.subject,
            "scope": token.scope,
            "iss": self.server.tokens.issuer,
            "aud": self.server.tokens.audience,
            "iat": int(token.issued_at.timestamp()),
            "exp": int(token.expires_at.timestamp()),
        }


class Revocation(_TokenLookup, RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = REVOCATION_METHODS

    def revoke_token(self, token: Issued, request: Request) -> None:
        wait(self.store.revoke, token)
