"""The Starlette application."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from tortoise.exceptions import DBConnectionError, OperationalError, ValidationError

from api import db, runtime
from api.access_log import AccessLog
from api.auth import Authenticator
from api.auth.passkey_routes import PasskeyRoutes
from api.auth.routes import AuthRoutes
from api.auth.sessions import Sessions
from api.body_limit import BodyLimit
from api.clock import Clock, SystemClock
from api.cors import Cors
from api.decoding import RequestDecoding, error_response
from api.fhir.routes import FhirRoutes
from api.graphql import GraphQLEndpoint
from api.headers import RequestIdAndHeaders
from api.health import Readiness, health
from api.key_refresh import refreshing
from api.keys import key_provider
from api.metrics_sampler import sampling
from api.oauth.bearer import TokenOrSession
from api.oauth.routes import OAuthRoutes
from api.oauth.service import OAuth
from api.provider_watch import ProviderWatch, watching
from api.settings import Settings
from api.startup import StartupReport
from api.transport import TransportGuard
from api.trusted_documents import DocumentStore
from api.unexpected import CatchAll
from api.web.assets import Assets
from api.web.pages import Pages
from audit.sealer import background_sealer
from models.keystore import load_audit_keys, load_keyring
from observe.exposition import worker_stopped
from ops.tally import background_tally
from schema.build import build_schema

log = logging.getLogger("phigate.http")


async def invalid_input(_: Request, __: Exception) -> JSONResponse:
    return JSONResponse({"error": "invalid_input"}, status_code=400)


async def http_error(request: Request, exc: Exception) -> Response:
    """Routing's own refusals (no such path, a method the path does not take) in the
    endpoint's error shape, instead of Starlette's plain text."""
    assert isinstance(exc, HTTPException)
    reason = _ROUTING_REASONS.get(exc.status_code, "bad_request")
    response = error_response(request.url.path, exc.status_code, reason, request.state.request_id)
    response.headers.update(exc.headers or {})
    return response


_ROUTING_REASONS = {404: "not_found", 405: "method_not_allowed"}


async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Logged by type only: driver messages can quote statements and their values.
    log.error("database unavailable: %s", type(exc).__name__)
    return JSONResponse({"error": "service_unavailable"}, status_code=503)


def create_app(
    settings: Settings,
    authenticate: Authenticator | None = None,
    clock: Clock | None = None,
    *,
    serving: bool = False,
) -> Starlette:
    """`authenticate` defaults to OAuth2 access tokens or server-side sessions; tests may pass
    their own. `serving`: this app is the whole process (a server worker), so the interpreter is
    settled once it has started (api/runtime.py)."""
    provider = key_provider(settings)
    clock = clock or SystemClock()
    sessions = Sessions(settings, clock)
    oauth = OAuth(settings, clock, provider)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.connect(settings.database_url, settings.db_timeouts)
        try:
            app.state.keyring = await load_keyring(provider)
            audit_keys = await load_audit_keys(provider)
            app.state.key_watch = ProviderWatch(
                provider, app.state.keyring, settings.key_custody.check_interval
            )
            async with (
                watching(app.state.key_watch),
                refreshing(app.state.keyring, provider, settings.keyring_refresh),
                background_sealer(settings, audit_keys) as app.state.sealing,
                background_tally(app.state.keyring, settings.report_tally_interval),
                sampling(settings.metrics_address is not None),
            ):
                if serving:
                    runtime.settle()
                yield
        finally:
            await db.disconnect()
            worker_stopped()

    auth = AuthRoutes(settings, clock, sessions)
    schema = build_schema(settings.limits, production=settings.production)
    graphql = GraphQLEndpoint(
        schema,
        authenticate or TokenOrSession(oauth, sessions),
        ide=not settings.production,
        documents=DocumentStore(settings.trusted_documents),
    )
    application = Starlette(
        routes=[
            Route("/healthz", health),
            Route("/readyz", Readiness(settings.db_statement_timeout.total_seconds() + 1).check),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            *FhirRoutes(schema, authenticate or TokenOrSession(oauth, sessions)).routes(),
            *auth.routes(),
            *PasskeyRoutes(auth).routes(),
            *OAuthRoutes(oauth, sessions).routes(),
            *Assets(ide=not settings.production).routes(),
            *Pages(sessions, ide=not settings.production).routes(),
        ],
        middleware=[
            Middleware(StartupReport),
            Middleware(RequestIdAndHeaders),
            Middleware(AccessLog),
            # Outside the catch-all: a browser can read a 500 too, and a preflight needs no
            # more than the request id.
            Middleware(Cors, origins=settings.cors_origins),
            # Inside the access log and the headers, so a 500 is logged and carries them.
            Middleware(CatchAll),
            Middleware(TransportGuard, trusted_proxies=settings.trusted_proxies),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            # Inside BodyLimit: what it reads is bounded.
            Middleware(RequestDecoding),
        ],
        exception_handlers={
            HTTPException: http_error,
            # A value the ORM refuses (too long for its column) is bad input, not a fault; its
            # message quotes the value, so it is neither logged nor returned.
            ValidationError: invalid_input,
            DBConnectionError: database_unavailable,
            OperationalError: database_unavailable,
            OSError: database_unavailable,
            # The embedded database's own failures (a damaged or vanished file).
            sqlite3.DatabaseError: database_unavailable,
            # What the driver raises before Tortoise can translate it (no server, no database).
            asyncpg.PostgresError: database_unavailable,
            asyncpg.InterfaceError: database_unavailable,
        },
        lifespan=lifespan,
    )
    application.state.safeguards = settings.safeguards
    return application
