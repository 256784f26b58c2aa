"""Request ids and response headers every response carries."""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.log_config import REQUEST_ID

SECURITY_HEADERS = {
    # PHI must never sit in a browser or proxy cache.
    "cache-control": "no-store",
    "pragma": "no-cache",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}

# Every HTML page (sign-in, consent, the development GraphiQL) loads only this host's own
# assets (api/web/assets.py): nothing remote, no inline script or style. GraphiQL's fonts
# are data: URIs inside its stylesheet.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; "
    "font-src data:; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class RequestIdAndHeaders:
    """Gives each request an id (`request.state.request_id`, `X-Request-Id`) and safe headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(12)
        scope.setdefault("state", {})["request_id"] = request_id
        # Every line logged while serving this request names it (api/log_config.py).
        token = REQUEST_ID.set(request_id)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                headers["x-request-id"] = request_id
                if headers.get("content-type", "").startswith("text/html"):
                    headers["content-security-policy"] = PAGE_CSP
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            REQUEST_ID.reset(token)
