"""A failed start, said in one line an operator can act on.

Starlette reports an exception in the lifespan to the server as its whole traceback, which
uvicorn prints: a wrong master key ended forty lines later in `KeyUnavailable`. Here a failure
phigate recognises is one line naming its likely cause; any other names its type, with the
frames it came through (never its message, which may quote a value). Either way the server is
told startup failed, and exits non-zero (uvicorn's 3; `phigate serve --workers N` too,
api/workers.py).
"""

from __future__ import annotations

import logging
import traceback

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crypto.errors import CryptoError
from ops.errors import DATABASE_ERRORS

log = logging.getLogger("phigate.startup")
STARTUP_FAILURE = 3
"""uvicorn's exit status for an app that did not start; `phigate serve` uses it throughout."""
WRONG_MASTER_KEY = "the master key does not open the data keys (wrong PHIGATE_MASTER_KEY?)"


def describe(exc: BaseException) -> str:
    """One line for a startup failure, with no exception message in it."""
    if isinstance(exc, CryptoError):
        return WRONG_MASTER_KEY
    if isinstance(exc, DATABASE_ERRORS):
        return f"the database cannot be reached or read ({type(exc).__name__})"
    return f"startup failed: unexpected {type(exc).__name__}"


class StartupReport:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        starting = True

        async def reporting_send(message: Message) -> None:
            nonlocal starting
            if message["type"] == "lifespan.startup.failed":
                return  # sent below, without the traceback
            starting = starting and message["type"] != "lifespan.startup.complete"
            await send(message)

        try:
            await self.app(scope, receive, reporting_send)
        except Exception as exc:
            if not starting:
                raise
            line = describe(exc)
            if line.startswith("startup failed"):
                log.error("%s\n%s", line, "".join(traceback.format_tb(exc.__traceback__)))
            await send({"type": "lifespan.startup.failed", "message": f"phigate: {line}"})
