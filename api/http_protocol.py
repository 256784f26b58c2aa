"""uvicorn's HTTP protocol with a limit on how long a request's headers may take.

uvicorn times out an idle keep-alive connection, but not one that has started a request and
not finished its headers: after the TLS handshake, a client sending `GET / HTTP/1.1\\r\\n` and
nothing more held its connection (a socket, a descriptor, TLS buffers) for as long as it liked;
0 of 400 such connections were closed after 20 s, bounded only by the open-file limit. Here the
clock starts when the connection is made and whenever a request begins, and stops when its
headers are complete; at `PHIGATE_HEADER_TIMEOUT_SECONDS` (default 10) the connection is closed.
Bodies are read by the app, under BodyLimit; the TLS handshake itself is bounded by asyncio
(60 s).
"""

from __future__ import annotations

import asyncio
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import Settings


@cache
def header_timeout() -> float:
    """From the environment, once per process: uvicorn builds the protocol itself, per
    connection, in each worker (whose environment is `phigate serve`'s)."""
    return Settings.from_env().header_timeout.total_seconds()


class HeaderTimeoutProtocol(HttpToolsProtocol):
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_timer()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        super().connection_lost(exc)

    def _start_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(header_timeout(), self._headers_too_slow)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
