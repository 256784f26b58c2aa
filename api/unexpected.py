"""The last line: an exception no handler answered becomes a JSON 500 in the endpoint's error
shape, naming the request id and nothing else.

Starlette's own last resort answers "Internal Server Error" in plain text and re-raises, and
uvicorn then logs the exception with its message, which may quote a submitted value. Here the
log names the exception's type and where it was raised (as schema/faults.py does for GraphQL),
never its message.
"""

from __future__ import annotations

import logging
import traceback

from starlette.types import ASGIApp, Receive, Scope, Send

from api.decoding import TrackedSend, error_response

log = logging.getLogger("phigate.http")


class CatchAll:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            request_id = scope.get("state", {}).get("request_id")
            log.error(
                "unexpected %s in %s %s request_id=%s\n%s",
                type(exc).__name__,
                scope["method"],
                scope["path"],
                request_id,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if tracked.started:
                # Half a response is out: all that is left is to cut the connection, which
                # uvicorn does when the app returns without finishing it.
                return
            response = error_response(scope["path"], 500, "internal_error", request_id)
            await response(scope, receive, send)
