"""CORS for the web frontends' origins (`PHIGATE_CORS_ORIGINS`): none by default.

A listed origin may call with credentials (a cookie session, or a bearer token in a header), so
its answers name it exactly, never `*`, and every answer says `Vary: Origin` for the caches
between. A preflight from an origin not listed, or asking for a method or header phigate does
not take, is refused in the endpoint's JSON error shape (403) with no CORS headers: the browser
then stops the request before it is sent. An actual request from such an origin goes through
unmarked, and the browser keeps its answer from the page.

Starlette's CORSMiddleware was not used: it answers a refused preflight with a plain-text 400,
and adds `Vary: Origin` only when an origin matched.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.decoding import error_response

METHODS = ("GET", "POST")
HEADERS = frozenset({"accept", "authorization", "content-type", "idempotency-key", "x-csrf-token"})
"""What a frontend sends: the session's CSRF header and a mutation's idempotency key too."""
EXPOSED = ("retry-after", "www-authenticate", "x-request-id")
MAX_AGE = "600"


def parse_origin(text: str) -> str:
    """`scheme://host[:port]`, lower-cased, as browsers send it; ValueError for anything else
    (a path, a wildcard, `null`): an allowlist entry is one exact origin."""
    parts = urlsplit(text.strip())
    if (
        parts.scheme not in {"https", "http"}
        or not parts.hostname
        or "*" in text
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError("each origin must be scheme://host[:port]")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class Cors:
    def __init__(self, app: ASGIApp, origins: frozenset[str]) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and origin in self.origins
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            response = self._preflight(scope, headers, origin if allowed else None)
            await response(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("origin")
                if allowed and origin is not None:
                    _credentialed(out, origin)
                    out["access-control-expose-headers"] = ", ".join(EXPOSED)
            await send(message)

        await self.app(scope, receive, marked)

    def _preflight(self, scope: Scope, headers: Headers, origin: str | None) -> Response:
        method = headers["access-control-request-method"]
        asked = {
            name.strip().lower()
            for name in headers.get("access-control-request-headers", "").split(",")
            if name.strip()
        }
        if origin is None or method not in METHODS or not asked <= HEADERS:
            request_id = scope.get("state", {}).get("request_id")
            response: Response = error_response(scope["path"], 403, "cors_refused", request_id)
        else:
            response = Response(status_code=204)
            _credentialed(response.headers, origin)
            response.headers["access-control-allow-methods"] = ", ".join(METHODS)
            response.headers["access-control-allow-headers"] = ", ".join(sorted(HEADERS))
            response.headers["access-control-max-age"] = MAX_AGE
        response.headers.add_vary_header("origin")
        return response


def _credentialed(headers: MutableHeaders, origin: str) -> None:
    headers["access-control-allow-origin"] = origin
    headers["access-control-allow-credentials"] = "true"
