"""A real `phigate serve` process on 127.0.0.1, over TLS with its generated certificate."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from tests.helpers import secret_of, totp_code


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[str]
    cert: Path
    output: str = ""
    """What the process printed, once it has stopped."""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=ssl.create_default_context(cafile=self.cert))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(
    env: dict[str, str],
    data_dir: Path,
    *args: str,
    port: int | None = None,
    own_group: bool = False,
) -> Iterator[LiveServer]:
    """`own_group`: the server and its workers in a process group of their own, as a host's
    are: killing the group (`os.killpg`) is the host going down."""
    port = port or free_port()
    # A file, not a pipe: nobody reads a pipe while the server runs, and a full pipe would
    # block the server's logging (and so the server).
    log = data_dir / f"serve-{port}.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", *args],
            env={**os.environ, **env, "PHIGATE_DATA_DIR": str(data_dir), "PHIGATE_PORT": str(port)},
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=own_group,
        )
    server = LiveServer(f"https://127.0.0.1:{port}", process, data_dir / "tls-cert.pem")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with server.client() as http:
                    http.get("/healthz", timeout=1)
                break
            except (httpx.TransportError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise RuntimeError("server did not start:\n" + log.read_text()) from None
                time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        server.output = log.read_text()


def seeded_password(env: dict[str, str], data_dir: Path, username: str, patients: int) -> str:
    """Seed the demo (`phigate demo`) and return the fresh password it printed for `username`."""
    run_env = {**env, "PATH": "/usr/bin:/bin", "PHIGATE_DATA_DIR": str(data_dir)}
    seeded = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--patients", str(patients)],
        env=run_env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(rf"{re.escape(username)}\s+\w+\s+(\S+)", seeded.stdout)
    assert found is not None
    return found[1]


def sign_in(http: httpx.Client, oathtool: str, username: str, password: str) -> dict[str, str]:
    """Log in, enrol an authenticator and answer it: the bearer header of the session."""
    step = http.post("/auth/login", json={"username": username, "password": password}).json()
    enrolment = http.post("/auth/mfa/enrol", json={"mfa_token": step["mfa_token"]}).json()
    code = totp_code(oathtool, secret_of(enrolment["otpauth_uri"]), datetime.now(UTC))
    done = http.post("/auth/mfa", json={"mfa_token": step["mfa_token"], "code": code}).json()
    return {"authorization": f"Bearer {done['token']}"}
