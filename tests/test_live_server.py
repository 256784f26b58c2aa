"""End to end against real uvicorn processes over TLS on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import secret_of, totp_code
from tests.live import LiveServer, live_server


@pytest.fixture
def env(database_url: str, master_key: str) -> dict[str, str]:
    return {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key}


def test_serve_demo_speaks_https_only(env: dict[str, str], tmp_path: Path) -> None:
    with live_server(env, tmp_path, "--demo", "--patients", "3") as server, server.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        page = http.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["strict-transport-security"].startswith("max-age=")
        anonymous = http.post("/graphql", json={"query": "{ patients { totalCount } }"})
        assert anonymous.status_code == 401
    assert "dr.grey" in server.output
    assert "Traceback" not in server.output, _traceback(server.output)


def _traceback(output: str) -> str:
    """The log from its first traceback on: not the demo logins printed at startup."""
    return output[output.find("Traceback") :][:4000]


def _listening_sockets(port: int) -> int:
    """IPv4 sockets listening on `port`, whoever holds them (Linux: /proc/net/tcp)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    listen = "0A"
    return sum(
        1
        for row in rows
        if int(row.split()[1].split(":")[1], 16) == port and row.split()[3] == listen
    )


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_each_worker_listens_on_a_socket_of_its_own(env: dict[str, str], tmp_path: Path) -> None:
    """With one shared socket, the worker that wakes first accepts a whole burst of
    connections; with a socket each (SO_REUSEPORT), the kernel spreads them."""
    with live_server(env, tmp_path, "--workers", "2") as server:
        port = int(server.url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while _listening_sockets(port) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _listening_sockets(port) == 2
        for _ in range(8):
            with server.client() as http:  # a new connection each time
                assert http.get("/healthz").json() == {"status": "ok"}
    assert "Traceback" not in server.output, _traceback(server.output)


def _handshake(server: LiveServer, version: ssl.TLSVersion) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(server.cert)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old protocols at all
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 on purpose
        context.minimum_version = context.maximum_version = version
    host, port = server.url.removeprefix("https://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        return str(tls.version())


def test_tls_below_1_2_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    with live_server(env, tmp_path) as server:
        assert _handshake(server, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
        assert _handshake(server, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with pytest.raises(ssl.SSLError) as refused:
                _handshake(server, old)
            # The client did offer the old version; the server hung up or alerted.
            assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)


def test_logout_is_visible_to_another_worker_process(
    env: dict[str, str], tmp_path: Path, oathtool: str
) -> None:
    seeded = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--patients", "4"],
        env={**env, "PATH": "/usr/bin:/bin", "PHIGATE_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    )
    password = re.search(r"dr\.grey\s+physician\s+(\S+)", seeded.stdout)
    assert password is not None
    with (
        live_server(env, tmp_path) as first,
        live_server(env, tmp_path) as second,
        first.client() as a,
        second.client() as b,
    ):
        first_step = a.post("/auth/login", json={"username": "dr.grey", "password": password[1]})
        assert first_step.status_code == 200, (first_step.status_code, first_step.text)
        step = first_step.json()
        enrolment = a.post("/auth/mfa/enrol", json={"mfa_token": step["mfa_token"]}).json()
        code = totp_code(oathtool, secret_of(enrolment["otpauth_uri"]), datetime.now(UTC))
        token = a.post("/auth/mfa", json={"mfa_token": step["mfa_token"], "code": code}).json()[
            "token"
        ]
        auth = {"authorization": f"Bearer {token}"}
        query = {"query": "{ patients(first: 100) { totalCount } }"}
        before = b.post("/graphql", json=query, headers=auth)
        assert before.json()["data"]["patients"]["totalCount"] == 2
        assert a.post("/auth/logout", headers=auth).status_code == 204
        after = b.post("/graphql", json=query, headers=auth)
        assert after.status_code == 401
        assert after.json()["errors"][0]["extensions"]["reason"] == "session_revoked"


def test_slow_clients_do_not_starve_others(env: dict[str, str], tmp_path: Path) -> None:
    """Connections that trickle a request (or never finish the TLS handshake) hold a socket,
    not a worker: the server keeps answering everybody else."""
    with live_server(env, tmp_path) as server:
        host, port = server.url.removeprefix("https://").split(":")
        context = ssl.create_default_context(cafile=server.cert)
        stalled = []
        for i in range(60):
            raw = socket.create_connection((host, int(port)), timeout=5)
            if i % 2:
                tls = context.wrap_socket(raw, server_hostname=host)
                tls.sendall(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
                stalled.append(tls)
            else:
                stalled.append(raw)  # never even says hello
        try:
            with server.client() as http:
                for _ in range(5):
                    assert http.get("/healthz", timeout=5).status_code == 200
        finally:
            for conn in stalled:
                conn.close()


def test_access_log_has_no_query_strings(env: dict[str, str], tmp_path: Path) -> None:
    secret = "MRN-424242"
    with live_server(env, tmp_path) as server, server.client() as http:
        query = f'{{ patients(mrn: "{secret}") {{ totalCount }} }}'
        assert http.get("/graphql", params={"query": query}).status_code == 401
    assert re.search(
        r"phigate\.access GET /graphql 401 [\d.]+ms principal=- request_id=\w+", server.output
    )
    assert secret not in server.output


@pytest.mark.parametrize("command", ["logout", "disable"])
def test_cli_logout_and_disable_stop_sessions_on_another_worker(
    env: dict[str, str], tmp_path: Path, oathtool: str, command: str
) -> None:
    run_env = {**env, "PATH": "/usr/bin:/bin", "PHIGATE_DATA_DIR": str(tmp_path)}
    seeded = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--patients", "4"],
        env=run_env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    password = re.search(r"dr\.grey\s+physician\s+(\S+)", seeded.stdout)
    assert password is not None
    with (
        live_server(env, tmp_path) as first,
        live_server(env, tmp_path) as second,
        first.client() as a,
        second.client() as b,
    ):
        step = a.post("/auth/login", json={"username": "dr.grey", "password": password[1]}).json()
        enrolment = a.post("/auth/mfa/enrol", json={"mfa_token": step["mfa_token"]}).json()
        code = totp_code(oathtool, secret_of(enrolment["otpauth_uri"]), datetime.now(UTC))
        done = a.post("/auth/mfa", json={"mfa_token": step["mfa_token"], "code": code}).json()
        auth = {"authorization": f"Bearer {done['token']}"}
        query = {"query": "{ patients(first: 100) { totalCount } }"}
        assert b.post("/graphql", json=query, headers=auth).status_code == 200
        changed = subprocess.run(
            [sys.executable, "-m", "api.cli", "users", command, "dr.grey"],
            env=run_env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert changed.returncode == 0, changed.stderr
        assert a.post("/graphql", json=query, headers=auth).status_code == 401
        assert b.post("/graphql", json=query, headers=auth).status_code == 401


def test_workers_build_the_report_tally_in_the_background(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A server with no tally builds it by itself, once, a tally interval after it started."""
    fast = {**env, "PHIGATE_REPORT_TALLY_INTERVAL": "1"}
    with live_server(fast, tmp_path, "--workers", "2") as server:
        log = next(tmp_path.glob("serve-*.log"))
        deadline = time.monotonic() + 30
        while "report tally rebuilt" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)  # both workers have had a round since
        with server.client() as http:
            assert http.get("/healthz").json() == {"status": "ok"}
    assert server.output.count("report tally rebuilt: 0 patients, 0 cells") == 1
    assert "Traceback" not in server.output, _traceback(server.output)
