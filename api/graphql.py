"""The `/graphql` endpoint: authenticate, then hand the request to strawberry with its context."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api.auth import Authenticator, AuthRejected
from api.decoding import is_json, parse_json
from api.web.html import graphiql_page
from schema.build import PhigateSchema
from schema.context import RequestContext
from schema.faults import INTERNAL_ERROR

_REFUSALS = {
    401: ("UNAUTHENTICATED", "Authentication required"),
    403: ("FORBIDDEN", "Not permitted"),
    415: ("BAD_REQUEST", "POST bodies must be application/json"),
}


def _default_code(error: dict[str, object]) -> str:
    # Our own errors carry a code already; what is left is a masked fault or a document that
    # did not parse or validate.
    return (
        "INTERNAL_ERROR" if error.get("message") == INTERNAL_ERROR else "GRAPHQL_VALIDATION_FAILED"
    )


def refusal(reason: str, status: int) -> JSONResponse:
    code, message = _REFUSALS[status]
    error = {"message": message, "extensions": {"code": code, "reason": reason}}
    return JSONResponse({"errors": [error]}, status_code=status)


class _View(GraphQL[RequestContext, None]):
    def __init__(self, schema: PhigateSchema) -> None:
        # Never strawberry's own IDE page: it loads from a CDN and copies the query into the
        # URL. Ours is api/web/html.py.
        super().__init__(schema, graphql_ide=None)
        self._plans = schema.plans

    def decode_json(self, data: str | bytes) -> object:
        # The body was checked by api.decoding already; a GET's `variables` were not.
        return parse_json(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        state = request.app.state
        principal = request.state.principal
        key = request.headers.get("idempotency-key")
        return RequestContext.create(
            principal, state.keyring, self._plans, state.safeguards, idempotency_key=key
        )

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """Every error has a code and names the request id: what a client and a support ticket
        need, and nothing more."""
        response = await super().process_result(request, result)
        for error in response.get("errors") or []:
            if isinstance(error, dict):
                # A new dict: a formatted error shares its extensions with the error itself,
                # and a validation error is cached, the same object for every request.
                error["extensions"] = {
                    "code": _default_code(error),
                    **(error.get("extensions") or {}),
                    "request_id": request.state.request_id,
                }
        return response


class GraphQLEndpoint:
    def __init__(self, schema: PhigateSchema, authenticate: Authenticator, ide: bool) -> None:
        self._authenticate = authenticate
        self._ide = ide
        self._view = _View(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._is_ide_page(request):
            # The IDE page is static HTML; its queries come back here and authenticate.
            await graphiql_page()(scope, receive, send)
            return
        try:
            principal = await self._authenticate(request)
        except AuthRejected as exc:
            await refusal(exc.reason, exc.status)(scope, receive, send)
            return
        if principal is None:
            await refusal("missing_credentials", 401)(scope, receive, send)
            return
        if request.method == "POST" and not is_json(request):
            # Forms and text/plain are what a cross-site page can post without a preflight.
            await refusal("content_type_must_be_json", 415)(scope, receive, send)
            return
        request.state.principal = principal
        await self._view(scope, receive, send)

    def _is_ide_page(self, request: Request) -> bool:
        return (
            self._ide
            and request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
        )
