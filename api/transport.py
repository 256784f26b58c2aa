"""Transport guard: HTTPS only, real client address, HSTS.

Behind a TLS-terminating proxy the scheme and client address come from `X-Forwarded-Proto` and
`X-Forwarded-For`, believed only from configured trusted proxies. A request that did not arrive
over HTTPS gets a refusal and nothing else. `/healthz` and `/readyz` (no data) are exempt, for
load balancers.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.networks import Network, resolve_client

HSTS = "max-age=63072000; includeSubDomains"
_EXEMPT = frozenset({"/healthz", "/readyz"})


class TransportGuard:
    def __init__(self, app: ASGIApp, trusted_proxies: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else None
        client, scheme = resolve_client(
            peer,
            scope.get("scheme", "http"),
            headers.get("x-forwarded-for"),
            headers.get("x-forwarded-proto"),
            self.trusted,
        )
        scope.setdefault("state", {})["client_ip"] = client
        if scheme != "https" and scope["path"] not in _EXEMPT:
            response = JSONResponse({"error": "https_required"}, status_code=403)
            await response(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_hsts)
