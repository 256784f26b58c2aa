"""`/healthz` (liveness: the process answers) and `/readyz` (readiness: it can serve).

A load balancer should route to a worker only while `/readyz` is 200: the database answered a
query within the statement timeout, the keyring is loaded, and the key provider answered its
last probe (api/provider_watch.py). Neither endpoint needs a login, so neither says more than
its status: the failure's type goes to the log.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from ops.errors import DATABASE_ERRORS

log = logging.getLogger("phigate.http")


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def check(self, request: Request) -> JSONResponse:
        keyring = getattr(request.app.state, "keyring", None)
        if keyring is None:
            return _unavailable("keyring not loaded")
        if keyring.suspended:
            return _unavailable("key provider does not answer")
        try:
            # The client's own limits apply too; this one also covers a connection attempt.
            async with asyncio.timeout(self.timeout):
                await connections.get("default").execute_query("SELECT 1")
        except DATABASE_ERRORS as exc:
            return _unavailable(f"database: {type(exc).__name__}")
        return JSONResponse({"status": "ready"})


def _unavailable(reason: str) -> JSONResponse:
    log.warning("not ready: %s", reason)
    return JSONResponse({"status": "unavailable"}, status_code=503)
