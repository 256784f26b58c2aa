"""`/oauth/*` and `/.well-known/*`: read the request on the event loop, run authlib's server
logic in a worker thread, audit the outcome, answer. Nothing of a secret or token is audited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization, scope_to_list
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from api.auth import AuthRejected, challenge, client_ip
from api.auth.sessions import Sessions, actor_of
from api.decoding import form_pairs, is_json, json_body, parse_form
from api.oauth.bridge import in_thread
from api.oauth.launch import launch_choices, launch_patient
from api.oauth.server import (
    AUTH_METHODS,
    CLIENT_ASSERTION_ALGS,
    INTROSPECTION_METHODS,
    PKCE_METHOD,
    REVOCATION_METHODS,
    Request,
)
from api.oauth.service import OAuth
from api.oauth.signing import ALG
from api.oauth.smart_metadata import smart_configuration
from api.oauth.store import Origin, client_actor
from api.web.consent import consent_page
from api.web.pages import signed_in
from audit.events import Actor, OAuthEvent
from models import User
from permissions.scopes import ALL_SCOPES
from permissions.smart import LaunchScope, supported_scopes

FORM = "application/x-www-form-urlencoded"
MAX_PARAMETERS = 30
_GRANT_TYPES = ["client_credentials", "authorization_code", "refresh_token"]
_OUTCOME = {
    "token": OAuthEvent.TOKEN_GRANTED,
    "introspection": OAuthEvent.TOKEN_INTROSPECTED,
    "revocation": OAuthEvent.TOKEN_REVOKED,
}


class BadRequest(Exception):
    pass


def _oauth_error(description: str, status: int = 400, error: str = "invalid_request") -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _respond(status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
    if isinstance(body, dict):
        return JSONResponse(body, status_code=status, headers=dict(headers))
    return Response(content=body or b"", status_code=status, headers=dict(headers))


class OAuthRoutes:
    def __init__(self, oauth: OAuth, sessions: Sessions) -> None:
        self.oauth = oauth
        self.sessions = sessions
        self.issuer = oauth.issuer

    def routes(self) -> list[Route]:
        endpoints: list[tuple[str, Callable[[HttpRequest], Awaitable[Response]], list[str]]] = [
            ("/oauth/token", self.token, ["POST"]),
            ("/oauth/authorize", self.consent_page, ["GET"]),
            ("/oauth/authorize", self.consent, ["POST"]),
            ("/oauth/introspect", self.introspect, ["POST"]),
            ("/oauth/revoke", self.revoke, ["POST"]),
            ("/.well-known/jwks.json", self.jwks, ["GET"]),
            ("/.well-known/oauth-authorization-server", self.metadata, ["GET"]),
            ("/.well-known/smart-configuration", self.smart_configuration, ["GET"]),
        ]
        return [Route(path, _guarded(fn), methods=methods) for path, fn, methods in endpoints]

    def _request(
        self, http: HttpRequest, query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> Request:
        pairs = [*query, *form]
        names = [name for name, _ in pairs]
        if len(pairs) > MAX_PARAMETERS or len(set(names)) != len(names):
            # RFC 6749 3.1, 3.2: no parameter may be sent more than once.
            raise BadRequest("repeated_or_too_many_parameters")
        if not _readable_basic_credentials(http):
            raise BadRequest("invalid_authorization_header")
        # The URI authlib sees is built on the configured issuer, not the Host header.
        uri = f"{self.issuer}{http.url.path}"
        origin = Origin(http.state.request_id, client_ip(http))
        return Request(http.method, uri, http.headers, query, form, origin, origin.ip)

    async def _form_request(self, http: HttpRequest) -> Request:
        if http.headers.get("content-type", "").split(";")[0].strip() != FORM:
            raise BadRequest("content_type_must_be_form")
        return self._request(http, [], form_pairs(http))  # valid text (api/decoding.py)

    async def _endpoint(self, http: HttpRequest, name: str) -> Response:
        """Token, introspection and revocation: authlib decides, the outcome is audited."""
        request = await self._form_request(http)
        await self.oauth.keys.ready()
        if name == "token":
            result = await in_thread(self.oauth.server.create_token_response, request)
        else:
            result = await in_thread(self.oauth.server.create_endpoint_response, name, request)
        status = result[0]
        event = _OUTCOME[name] if status == 200 else OAuthEvent.TOKEN_REFUSED
        await self._audit(request, event)
        return _respond(*result)

    async def token(self, http: HttpRequest) -> Response:
        return await self._endpoint(http, "token")

    async def introspect(self, http: HttpRequest) -> Response:
        return await self._endpoint(http, "introspection")

    async def revoke(self, http: HttpRequest) -> Response:
        return await self._endpoint(http, "revocation")

    async def _audit(self, request: Request, event: OAuthEvent) -> None:
        """Actor: the user a token acts for, else the client. A refused request names the
        client it claimed only if that client exists (never whatever was typed)."""
        client = request.client or await self.oauth.store.client(_claimed_client_id(request))
        user: User | None = request.user
        actor = actor_of(user) if user else client_actor(client.row) if client else Actor()
        await self.oauth.store.audit(
            event, actor, client.row.public_id if client else None, request.origin
        )

    async def _session_user(self, http: HttpRequest) -> User:
        session = await self.sessions.current(http)
        if session is None:
            raise AuthRejected("login_required")
        return session.user

    async def consent_page(self, http: HttpRequest) -> Response:
        """What the app asks for: the consent page for a browser (after its sign-in step, if
        it has no session), else as JSON for the logged-in user's own consent screen."""
        browser = "text/html" in http.headers.get("accept", "")
        if browser:
            session = await signed_in(self.sessions, http)
            if isinstance(session, RedirectResponse):
                return session
            user = session.user
        else:
            user = await self._session_user(http)
        query = parse_form(http.url.query)
        request = self._request(http, query, [])
        try:
            grant = await in_thread(self.oauth.server.get_consent_grant, request, user)
        except OAuth2Error as error:
            return _respond(*self.oauth.server.handle_error_response(request, error))
        scopes = scope_to_list(request.scope)
        choices = None
        if LaunchScope.LAUNCH_PATIENT.value in scopes:
            choices = await launch_choices(user, request.origin.request_id)
        if browser:
            return consent_page(grant.client.row.name, scopes, query, choices)
        consent = {
            "client": {"client_id": grant.client.get_client_id(), "name": grant.client.row.name},
            "scopes": scopes,
            "redirect_uri": grant.redirect_uri,
            "state": request.payload.state,
            "user": user.public_id,
        }
        if choices is not None:
            # The decision must name one of them (or another patient in the user's rows).
            consent["launch"] = {"patients": choices}
        return JSONResponse(consent)

    async def consent(self, http: HttpRequest) -> Response:
        """The user's decision (JSON: the authorization request's parameters plus `decision`,
        `approve` or `deny`); answers with the redirect back to the app."""
        user = await self._session_user(http)
        if not is_json(http):
            raise BadRequest("content_type_must_be_json")
        body = dict(json_body(http))  # an object of valid text (api/decoding.py)
        if not all(isinstance(v, str) for v in body.values()):
            raise BadRequest("invalid_json")
        decision = body.pop("decision", None)
        if decision not in {"approve", "deny"}:
            raise BadRequest("decision_must_be_approve_or_deny")
        chosen = body.pop("patient", None)
        request = self._request(http, [], list(body.items()))
        try:
            grant = await in_thread(self.oauth.server.get_consent_grant, request, user)
        except OAuth2Error as error:
            return _respond(*self.oauth.server.handle_error_response(request, error))
        approved = decision == "approve"
        if approved:
            request.launch_patient = await self._launch(request, user, chosen)
        event = OAuthEvent.CONSENT_GRANTED if approved else OAuthEvent.CONSENT_DENIED
        await self.oauth.store.audit(
            event, actor_of(user), grant.client.get_client_id(), request.origin
        )
        status, content, headers = await in_thread(
            self.oauth.server.create_authorization_response,
            request,
            user if approved else None,
            grant,
        )
        location = dict(headers).get("Location")
        if location and "application/json" in http.headers.get("accept", ""):
            # A page's script cannot read a cross-site redirect; it follows this itself.
            return JSONResponse({"redirect_to": location})
        return _respond(status, content, headers)

    async def _launch(self, request: Request, user: User, chosen: str | None) -> int | None:
        """The patient picked for `launch/patient`: one in the user's rows, and only when the
        app asked for a launch patient."""
        wanted = LaunchScope.LAUNCH_PATIENT.value in scope_to_list(request.scope)
        if not wanted:
            if chosen is not None:
                raise BadRequest("patient_given_without_launch_patient")
            return None
        if not chosen:
            raise BadRequest("launch_patient_required")
        patient = await launch_patient(user, request.origin.request_id, chosen)
        if patient is None:
            raise BadRequest("launch_patient_not_found")
        return patient

    async def smart_configuration(self, _: HttpRequest) -> Response:
        return JSONResponse(smart_configuration(self.issuer))

    async def jwks(self, _: HttpRequest) -> Response:
        await self.oauth.keys.ready()
        return JSONResponse(self.oauth.keys.jwks())

    async def metadata(self, _: HttpRequest) -> Response:
        issuer = self.issuer
        metadata = AuthorizationServerMetadata(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/oauth/authorize",
                "token_endpoint": f"{issuer}/oauth/token",
                "jwks_uri": f"{issuer}/.well-known/jwks.json",
                "introspection_endpoint": f"{issuer}/oauth/introspect",
                "revocation_endpoint": f"{issuer}/oauth/revoke",
                "scopes_supported": [*ALL_SCOPES, *supported_scopes()],
                "response_types_supported": ["code"],
                "grant_types_supported": _GRANT_TYPES,
                "code_challenge_methods_supported": [PKCE_METHOD],
                "token_endpoint_auth_methods_supported": AUTH_METHODS,
                "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
                "introspection_endpoint_auth_methods_supported": INTROSPECTION_METHODS,
                "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
                "revocation_endpoint_auth_methods_supported": REVOCATION_METHODS,
                "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
                "access_token_signing_alg_values_supported": [ALG],
            }
        )
        metadata.validate()
        return JSONResponse(dict(metadata))


def _readable_basic_credentials(http: HttpRequest) -> bool:
    """authlib decodes Basic credentials as UTF-8 without catching the error: bytes that are
    not UTF-8 would surface as a 500."""
    try:
        extract_basic_authorization(http.headers)
    except UnicodeDecodeError:
        return False
    return True


def _claimed_client_id(request: Request) -> str | None:
    basic_id, _ = extract_basic_authorization(request.headers)
    claimed: str | None = basic_id or request.form.get("client_id")
    return claimed


def _guarded(
    endpoint: Callable[[HttpRequest], Awaitable[Response]],
) -> Callable[[HttpRequest], Awaitable[Response]]:
    """Expected refusals as OAuth-style JSON errors; nothing internal reaches the client."""

    async def run(request: HttpRequest) -> Response:
        try:
            return await endpoint(request)
        except BadRequest as exc:
            return _oauth_error(str(exc))
        except AuthRejected as exc:
            headers = challenge(exc.reason) if exc.status == 401 else None
            return JSONResponse({"error": exc.reason}, status_code=exc.status, headers=headers)

    return run
