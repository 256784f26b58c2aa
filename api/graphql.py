"""The `/graphql` endpoint: negotiate the answer's media type, authenticate, resolve a trusted
document's hash, then hand the request to strawberry with its context.

Every refusal, phigate's or strawberry's (no query, a mutation over GET, an unknown operation
name), is a GraphQL `errors` answer with a code, a reason and the request id, in the media type
negotiated (api/graphql_media.py): never strawberry's plain text.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from api.auth import Authenticator, AuthRejected, challenge
from api.decoding import is_json, json_body, parse_json
from api.graphql_media import JSON, is_request_error, negotiate, status_of
from api.trusted_documents import DocumentRefused, DocumentStore
from api.web.html import graphiql_page
from schema.build import PhigateSchema
from schema.context import RequestContext
from schema.faults import INTERNAL_ERROR

_REFUSALS = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHENTICATED", "Authentication required"),
    403: ("FORBIDDEN", "Not permitted"),
    405: ("BAD_REQUEST", "Method not allowed"),
    406: ("BAD_REQUEST", "Accept application/graphql-response+json or application/json"),
    415: ("BAD_REQUEST", "POST bodies must be application/json"),
    503: ("SERVICE_UNAVAILABLE", "Keys unavailable: the key provider does not answer"),
}
_STRAWBERRY_REASONS = (
    # strawberry's refusals by the start of their text (which may quote the request), and
    # the status GraphQL over HTTP gives them.
    ("No GraphQL query found", "query_required", 400),
    ("Unknown operation named", "operation_name_unknown", 400),
    ("Can't get GraphQL operation type", "operation_name_required", 400),
    ("mutations are not allowed when using GET", "mutation_requires_post", 405),
    ("The GraphQL operation's `query`", "query_must_be_a_string", 400),
    ("The GraphQL operation's `variables`", "variables_must_be_an_object", 400),
    ("The GraphQL operation's `extensions`", "extensions_must_be_an_object", 400),
    ("Batching is not enabled", "batching_not_supported", 400),
)


def _default_code(error: dict[str, object]) -> str:
    # Our own errors carry a code already; what is left is a masked fault or a document that
    # did not parse or validate.
    return (
        "INTERNAL_ERROR" if error.get("message") == INTERNAL_ERROR else "GRAPHQL_VALIDATION_FAILED"
    )


def refusal(request: Request, reason: str, status: int, code: str | None = None) -> JSONResponse:
    default_code, message = _REFUSALS[status]
    extensions = {
        "code": code or default_code, "reason": reason, "request_id": request.state.request_id,
    }  # fmt: skip
    headers = challenge(reason) if status == 401 else None
    response = JSONResponse(
        {"errors": [{"message": message, "extensions": extensions}]},
        status_code=status,
        headers=headers,
    )
    response.headers["content-type"] = request.state.media
    return response


def _strawberry_refusal(request: Request, text: str) -> JSONResponse:
    reason, status = next(
        ((reason, status) for start, reason, status in _STRAWBERRY_REASONS if start in text),
        ("bad_request", 400),
    )
    return refusal(request, reason, status)


class _View(GraphQL[RequestContext, None]):
    def __init__(self, schema: PhigateSchema) -> None:
        # Never strawberry's own IDE page: it loads from a CDN and copies the query into the
        # URL. Ours is api/web/html.py.
        super().__init__(schema, graphql_ide=None)
        self._plans = schema.plans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            response = _strawberry_refusal(request, exc.reason)
        await response(scope, receive, send)

    def should_render_graphql_ide(self, request: Any) -> bool:
        # The endpoint serves the IDE page itself (`GraphQLEndpoint._is_ide_page`); strawberry
        # would take any GET without `query` (one naming a trusted document) for the page.
        return False

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
        if request.state.media != JSON and is_request_error(response):
            # Nothing was executed: the answer has no data (GraphQL over HTTP).
            del response["data"]
        return response

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """The request's text, or the trusted document its hash named."""
        request: Request = kwargs["request"]
        document: str | None = getattr(request.state, "document", None)
        if document is not None:
            data: GraphQLRequestData = kwargs["request_data"]
            kwargs["request_data"] = replace(data, query=document)
        return await super().execute_single(*args, **kwargs)

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type or JSON
        response.headers["content-type"] = media
        if isinstance(response_data, dict):
            response.status_code = status_of(media, response_data)
        return response

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = request.state.media
        return sub_response


class GraphQLEndpoint:
    def __init__(
        self,
        schema: PhigateSchema,
        authenticate: Authenticator,
        ide: bool,
        documents: DocumentStore,
    ) -> None:
        self._authenticate = authenticate
        self._ide = ide
        self._documents = documents
        self._view = _View(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._is_ide_page(request):
            # The IDE page is static HTML; its queries come back here and authenticate.
            await graphiql_page()(scope, receive, send)
            return
        media = negotiate(request.headers.get("accept"))
        # Refusals before this one are JSON whatever was asked for.
        request.state.media = media or JSON
        response = await self._admit(request, acceptable=media is not None)
        if response is not None:
            await response(scope, receive, send)
            return
        await self._view(scope, receive, send)

    async def _admit(self, request: Request, acceptable: bool) -> Response | None:
        """A refusal, or None once the request may run: its principal and its document (a
        trusted document's text, or None to run its own) are in `request.state`."""
        try:
            principal = await self._authenticate(request)
        except AuthRejected as exc:
            return refusal(request, exc.reason, exc.status)
        if principal is None:
            return refusal(request, "missing_credentials", 401)
        if request.method == "POST" and not is_json(request):
            # Forms and text/plain are what a cross-site page can post without a preflight.
            return refusal(request, "content_type_must_be_json", 415)
        if not acceptable:
            return refusal(request, "not_acceptable", 406)
        keyring = getattr(request.app.state, "keyring", None)
        if keyring is not None and keyring.suspended:
            # Fail closed, and say why once rather than as PHI_UNAVAILABLE on every field (a
            # keyring missing altogether fails closed field by field, in the object pass).
            return refusal(request, "key_provider_unavailable", 503)
        request.state.principal = principal
        try:
            request.state.document = await self._documents.text(_payload(request))
        except DocumentRefused as exc:
            return refusal(request, exc.reason, 400, exc.code)
        return None

    def _is_ide_page(self, request: Request) -> bool:
        return (
            self._ide
            and request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
        )


def _payload(request: Request) -> dict[str, Any]:
    """The request's GraphQL parameters: the JSON body of a POST, the query string of a GET
    (its `extensions` decoded under api.decoding's rules)."""
    if request.method == "POST":
        body: dict[str, Any] = json_body(request)
        return body
    payload: dict[str, Any] = dict(request.query_params)
    if payload.get("extensions"):
        payload["extensions"] = parse_json(payload["extensions"])
    return payload
