"""Connection lifetimes on a real server over TLS (issue 25): a connection that never finishes
its request headers is closed at the header timeout, and a SIGTERM with an idle keep-alive
client connected stops the server within its graceful-shutdown limit. Bounds are generous
multiples of the limits set."""

from __future__ import annotations

import signal
import socket
import ssl
import time
from pathlib import Path

import pytest

from tests.live import live_server

HEADER_TIMEOUT = 2
HALF_OPEN = 30
BOUND = 30.0


@pytest.fixture
def env(database_url: str, master_key: str) -> dict[str, str]:
    return {
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "PHIGATE_GRACEFUL_SHUTDOWN_SECONDS": "2",
    }


def _closed_by_server(conn: ssl.SSLSocket) -> bool:
    try:
        return conn.recv(1) == b""
    except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True  # reset: closed too


def test_half_open_tls_connections_are_closed(env: dict[str, str], tmp_path: Path) -> None:
    with live_server(env, tmp_path) as server:
        host, port = server.url.removeprefix("https://").split(":")
        context = ssl.create_default_context(cafile=server.cert)
        half_open = []
        for _ in range(HALF_OPEN):
            raw = socket.create_connection((host, int(port)), timeout=5)
            tls = context.wrap_socket(raw, server_hostname=host)
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finish
            half_open.append(tls)
        try:
            for conn in half_open:
                conn.settimeout(0.05)
            deadline = time.monotonic() + BOUND
            open_ones = list(half_open)
            while open_ones and time.monotonic() < deadline:
                open_ones = [conn for conn in open_ones if not _closed_by_server(conn)]
                time.sleep(0.2)
            assert open_ones == [], f"{len(open_ones)} of {HALF_OPEN} still open"
            # A client that sends its headers in time is served as usual.
            with server.client() as http:
                assert http.get("/healthz", timeout=5).status_code == 200
        finally:
            for conn in half_open:
                conn.close()


def test_sigterm_with_an_idle_keep_alive_client_stops_the_server(
    env: dict[str, str], tmp_path: Path
) -> None:
    with live_server(env, tmp_path) as server, server.client() as http:
        assert http.get("/healthz").status_code == 200  # the connection stays open, idle
        # And one in the middle of a request, which shutdown must not wait for forever.
        host, port = server.url.removeprefix("https://").split(":")
        context = ssl.create_default_context(cafile=server.cert)
        raw = socket.create_connection((host, int(port)), timeout=5)
        with context.wrap_socket(raw, server_hostname=host) as stalled:
            stalled.sendall(
                b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n{"
            )
            time.sleep(0.5)
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            server.process.wait(timeout=BOUND)
            assert time.monotonic() - started < BOUND
    # uvicorn finishes its shutdown, then ends by the signal it was stopped with.
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.output
