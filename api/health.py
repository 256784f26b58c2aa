"""`/healthz` (liveness: the process answers) and `/readyz` (readiness: it can serve).

A load balancer should route to a worker only while `/readyz` is 200: the database answers a
query within the statement timeout, every migration this code ships is applied, the keyring is
loaded and its key provider answered its last probe (api/provider_watch.py), and the audit
trail is being written (audit/health.py: neither the request records nor the background sealer
are failing run after run). Neither endpoint needs a login, so neither
says more than which check failed (`{"status": "unavailable", "checks": {"database": "fail"}}`);
the failure's type goes to the log.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from api.db_state import pending_migrations, shipped_migrations
from audit.health import REQUEST_RECORDS, Streak
from ops.errors import DATABASE_ERRORS

log = logging.getLogger("phigate.http")
FAIL = "fail"
SEALER_FAILURES = 2
"""Sealing runs failed in a row before the worker is not ready (one is retried anyway)."""


async def health(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


class Readiness:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._shipped = shipped_migrations()
        self._migrated = False
        """Once every shipped migration was applied it stays so: not asked again."""

    async def check(self, request: Request) -> JSONResponse:
        failed: dict[str, str] = {}
        state = request.app.state
        keyring = getattr(state, "keyring", None)
        if keyring is None:
            failed["keyring"] = FAIL
        elif keyring.suspended:
            failed["key_provider"] = FAIL
        try:
            # The client's own limits apply too; this one also covers a connection attempt.
            async with asyncio.timeout(self.timeout):
                await connections.get("default").execute_query("SELECT 1")
                if not self._migrated:
                    self._migrated = not await pending_migrations(self._shipped)
            if not self._migrated:
                failed["migrations"] = FAIL
        except DATABASE_ERRORS as exc:
            log.warning("not ready: database (%s)", type(exc).__name__)
            failed["database"] = FAIL
        sealing: Streak | None = getattr(state, "sealing", None)
        if REQUEST_RECORDS.failing() or (sealing is not None and sealing.failing(SEALER_FAILURES)):
            failed["audit"] = FAIL
        if failed:
            log.warning("not ready: %s", ", ".join(sorted(failed)))
            return JSONResponse({"status": "unavailable", "checks": failed}, status_code=503)
        return JSONResponse({"status": "ready"})
