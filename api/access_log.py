"""The access log: method, route, status, duration, request id and principal. Never the query
string or body: `GET /graphql?query=...` may carry a search value, which is PHI. Nor a path no
route matched: that is whatever the client typed (`unmatched` instead)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observe import metrics

log = logging.getLogger("phigate.access")
UNMATCHED = "unmatched"


def route_of(scope: Scope) -> str:
    """The route that served the request, as declared: `/fhir/Patient/{id}`, never the id."""
    if "endpoint" not in scope:
        return UNMATCHED
    return str(getattr(scope.get("route"), "path", scope["path"]))


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            seconds = time.perf_counter() - started
            route, state = route_of(scope), scope.get("state", {})
            principal = state.get("principal")
            actor = principal.actor if principal is not None else "-"
            metrics.HTTP_REQUESTS.labels(route, str(status)).inc()
            metrics.HTTP_SECONDS.labels(route).observe(seconds)
            log.info(
                "%s %s %d %.1fms principal=%s",
                scope["method"],
                route,
                status,
                seconds * 1000,
                actor,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "principal": actor,
                    "request_id": state.get("request_id", "-"),
                },
            )
