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

from crypto.errors import CryptoError, ProviderUnavailable, WrongProvider
from ops.errors import DATABASE_ERRORS

log = logging.getLogger("phigate.startup")
STARTUP_FAILURE = 3
"""uvicorn's exit status for an app that did not start; `phigate serve` uses it throughout."""
WRONG_MASTER_KEY = "the master key does not open the data keys (wrong PHIGATE_MASTER_KEY?)"
PROVIDER_UNAVAILABLE = (
    "the key provider (HSM/KMS) does not answer or refuses: check PHIGATE_KEY_PROVIDER's "
    "settings, the token or key, and the network"
)


def describe(exc: BaseException) -> str:
    """One line for a startup failure, with no exception message in it."""
    if isinstance(exc, CryptoError):
        return key_failure(exc)
    if isinstance(exc, DATABASE_ERRORS):
        return f"the database cannot be reached or read ({type(exc).__name__})"
    return f"startup failed: unexpected {type(exc).__name__}"


def key_failure(exc: CryptoError, wrong_key: str = WRONG_MASTER_KEY) -> str:
    """One line for keys that would not unwrap: the provider is down, the keys are another
    provider's, or (`wrong_key`) the key is not the one they were wrapped with."""
    if isinstance(exc, ProviderUnavailable):
        return PROVIDER_UNAVAILABLE
    if isinstance(exc, WrongProvider):
        return (
            f"the stored keys are wrapped by the {exc.wrapped_by} key provider, not "
            f"{exc.configured}: run `phigate keys rewrap --from {exc.wrapped_by}` first"
        )
    return wrong_key


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
