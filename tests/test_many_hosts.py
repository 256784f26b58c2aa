"""Two phigate hosts behind HAProxy on one PostgreSQL: what running more than one must not change.

PostgreSQL only: what is shown is state shared through one database (sessions, tokens,
lockouts, the audit chain), which hosts cannot share through an embedded SQLite file. The
module's tests share one cluster (`cluster`): two hosts, each `phigate serve --workers 2` in a
process group of its own with its own data folder, and HAProxy in front running
docs/examples/haproxy.cfg itself (TLS terminated there and opened again to each host, `/readyz`
health checks). The hosts believe X-Forwarded-For only from the balancer's own source address.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from api.settings import Settings
from api.tls import ensure_self_signed
from audit.events import Actor, AuthEvent, record_event
from tests.browser import demo_logins
from tests.helpers import debian_tool
from tests.live import LiveServer, free_port, live_server, sign_in
from tests.pgcluster import database_from_template, drop_database

CONFIG = Path(__file__).parent.parent / "docs" / "examples" / "haproxy.cfg"
LB_SOURCE = "127.0.0.2"
"""The balancer connects to the hosts from here; clients (the tests) come from 127.0.0.1."""
LOCKOUT_THRESHOLD = 4
PAGE = "{ patients(first: 10) { totalCount } }"


@dataclass
class Host:
    name: str
    port: int
    data_dir: Path
    server: LiveServer

    def client(self) -> httpx.Client:
        return self.server.client()

    def served(self, request_id: str) -> bool:
        """Whether this host's access log names the request."""
        log = self.data_dir / f"serve-{self.port}.log"
        return f"request_id={request_id}" in log.read_text()


@dataclass
class Cluster:
    database_url: str
    env: dict[str, str]
    lb_url: str
    lb_cert: Path
    lb_log: Path
    logins: dict[str, str]
    oathtool: str
    root: Path
    stack: contextlib.ExitStack
    hosts: list[Host] = field(default_factory=list)

    def lb(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=self.lb_cert)
        return httpx.Client(base_url=self.lb_url, verify=context, timeout=10)

    def sign_in(self, http: httpx.Client, username: str) -> dict[str, str]:
        return sign_in(http, self.oathtool, username, self.logins[username])

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            env={**os.environ, **self.env, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip

    def sql(self, statement: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.database_url)
            try:
                return list(await conn.fetch(statement, *args))
            finally:
                await conn.close()

        return asyncio.run(run())


@pytest.fixture(scope="session")
def haproxy() -> str:
    return debian_tool("haproxy", "haproxy")


@pytest.fixture(scope="module")
def shared_database(pg_admin_url: str | None, pg_template: str | None) -> Iterator[str]:
    if pg_admin_url is None or pg_template is None:
        pytest.skip("PostgreSQL unavailable (set PHIGATE_TEST_DATABASE_URL or install it)")
    url = asyncio.run(database_from_template(pg_admin_url, pg_template))
    yield url
    asyncio.run(drop_database(pg_admin_url, url))


def _start_host(cluster: Cluster, name: str, port: int) -> Host:
    """A host: its own data folder (holding the hosts' certificate) and process group."""
    data_dir = cluster.root / f"{name}-{time.monotonic_ns()}"
    data_dir.mkdir()
    for part in ("tls-cert.pem", "tls-key.pem"):
        shutil.copy(cluster.root / "hosts-tls" / part, data_dir / part)
    env = {
        **cluster.env,
        "PHIGATE_TLS_CERT": str(data_dir / "tls-cert.pem"),
        "PHIGATE_TLS_KEY": str(data_dir / "tls-key.pem"),
    }
    server = cluster.stack.enter_context(
        live_server(env, data_dir, "--workers", "2", port=port, own_group=True)
    )
    return Host(name, port, data_dir, server)


def _wait_until_balanced(cluster: Cluster) -> None:
    """Until requests through the balancer reach every host (its checks passed for each)."""
    deadline = time.monotonic() + 30
    with cluster.lb() as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                ids = [http.get("/readyz").headers.get("x-request-id", "") for _ in range(4)]
                if all(any(host.served(i) for i in ids) for host in cluster.hosts):
                    return
            time.sleep(0.3)
    raise AssertionError("the balancer did not reach both hosts:\n" + cluster.lb_log.read_text())


@pytest.fixture(scope="module")
def cluster(
    shared_database: str,
    master_key: str,
    oathtool: str,
    haproxy: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("many-hosts")
    for folder in ("hosts-tls", "lb-tls", "seed"):
        (root / folder).mkdir()
    ensure_self_signed(root / "hosts-tls")
    lb_cert, lb_key = ensure_self_signed(root / "lb-tls")
    (root / "lb.pem").write_bytes(lb_cert.read_bytes() + lb_key.read_bytes())
    lb_port = free_port()
    lb_url = f"https://127.0.0.1:{lb_port}"
    env = {
        "PHIGATE_DATABASE_URL": shared_database,
        # What every host must agree on: the one public name clients know (a host's default
        # is its own address, and a token one host issued would be refused by the others).
        "PHIGATE_OAUTH_ISSUER": lb_url,
        "PHIGATE_WEBAUTHN_ORIGIN": lb_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_TRUSTED_PROXIES": f"{LB_SOURCE}/32",
        "PHIGATE_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
        # Every worker of both hosts runs the sealer, often, on rows a second old.
        "PHIGATE_AUDIT_SETTLE_SECONDS": "1",
        "PHIGATE_AUDIT_SEAL_INTERVAL": "1",
        "PHIGATE_DATA_DIR": str(root / "seed"),
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--patients", "4"],
        env={**os.environ, **env, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    ports = [free_port(), free_port()]
    cluster = Cluster(
        shared_database, env, lb_url, lb_cert, root / "haproxy.log",
        demo_logins(seeded.stdout), oathtool, root, contextlib.ExitStack(),
    )  # fmt: skip
    with cluster.stack as stack:
        cluster.hosts = [_start_host(cluster, f"host{i + 1}", port) for i, port in enumerate(ports)]
        lb_env = {
            "PHIGATE_LB_BIND": f"127.0.0.1:{lb_port}",
            "PHIGATE_LB_CERT": str(root / "lb.pem"),
            "PHIGATE_LB_SOURCE": LB_SOURCE,
            "PHIGATE_HOSTS_CA": str(root / "hosts-tls" / "tls-cert.pem"),
            "PHIGATE_HOSTS_NAME": "localhost",
            "PHIGATE_HOST1": f"127.0.0.1:{ports[0]}",
            "PHIGATE_HOST2": f"127.0.0.1:{ports[1]}",
        }
        with cluster.lb_log.open("w") as sink:
            balancer = subprocess.Popen(
                [haproxy, "-db", "-f", str(CONFIG)],
                env={**os.environ, **lb_env}, stdout=sink, stderr=subprocess.STDOUT,
            )  # fmt: skip
        stack.callback(balancer.wait, 10)
        stack.callback(balancer.terminate)
        _wait_until_balanced(cluster)
        yield cluster


@pytest.fixture(scope="module")
def physician(cluster: Cluster) -> dict[str, str]:
    """dr.grey's session, signed in on host1."""
    with cluster.hosts[0].client() as http:
        return cluster.sign_in(http, "dr.grey")


def test_a_session_from_one_host_serves_on_the_other_and_through_the_balancer(
    cluster: Cluster, physician: dict[str, str]
) -> None:
    with cluster.hosts[1].client() as http:
        page = http.post("/graphql", json={"query": PAGE}, headers=physician)
    assert page.json() == {"data": {"patients": {"totalCount": 2}}}
    with cluster.lb() as http:
        # A client's own X-Forwarded-For is not what the hosts record: the balancer's is.
        headers = {**physician, "x-forwarded-for": "198.51.100.7"}
        query = {"query": "{ patients(first: 1) { edges { node { ssn } } } }"}
        answers = [http.post("/graphql", json=query, headers=headers) for _ in range(6)]
    assert {answer.status_code for answer in answers} == {200}
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert all(any(host.served(i) for i in ids) for host in cluster.hosts)
    rows = cluster.sql("SELECT DISTINCT ip FROM audit_event WHERE request_id = ANY($1)", ids)
    assert [row["ip"] for row in rows] == ["127.0.0.1"]


def test_logout_on_one_host_ends_the_session_on_both(cluster: Cluster) -> None:
    first, second = cluster.hosts
    with first.client() as a, second.client() as b:
        auth = cluster.sign_in(b, "desk.ada")
        assert a.post("/graphql", json={"query": PAGE}, headers=auth).status_code == 200
        assert a.post("/auth/logout", headers=auth).status_code == 204
        for http in (a, b):
            after = http.post("/graphql", json={"query": PAGE}, headers=auth)
            assert after.status_code == 401
            assert after.json()["errors"][0]["extensions"]["reason"] == "session_revoked"


def test_disabling_a_user_stops_their_sessions_on_both_hosts(cluster: Cluster) -> None:
    first, second = cluster.hosts
    with first.client() as a, second.client() as b:
        auth = cluster.sign_in(a, "nurse.joy")
        assert b.post("/graphql", json={"query": PAGE}, headers=auth).status_code == 200
        disabled = cluster.cli("users", "disable", "nurse.joy")
        assert disabled.returncode == 0, disabled.stderr
        for http in (a, b):
            assert http.post("/graphql", json={"query": PAGE}, headers=auth).status_code == 401


def test_a_token_revoked_on_one_host_is_refused_by_the_other(cluster: Cluster) -> None:
    org = cluster.sql("SELECT public_id FROM organization ORDER BY id LIMIT 1")[0]["public_id"]
    created = cluster.cli(
        "clients", "create", "--name", "Partner", "--organization", org,
        "--scope", "patient.read phi.demographics",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    fields = dict(line.split(":", 1) for line in created.stdout.splitlines() if ":" in line)
    basic = (fields["client_id"].strip(), fields["client_secret"].strip())
    first, second = cluster.hosts
    with first.client() as a, second.client() as b:
        issued = a.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=basic)
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        assert b.post("/graphql", json={"query": PAGE}, headers=auth).status_code == 200
        revoked = b.post("/oauth/revoke", data={"token": token}, auth=basic)
        assert revoked.status_code == 200, revoked.text
        for http in (a, b):
            after = http.post("/graphql", json={"query": PAGE}, headers=auth)
            assert after.status_code == 401
            assert after.json()["errors"][0]["extensions"]["reason"] == "token_revoked"


def _login(http: httpx.Client, username: str, password: str) -> httpx.Response:
    return http.post("/auth/login", json={"username": username, "password": password})


def test_failures_on_both_hosts_add_up_to_one_lockout(cluster: Cluster) -> None:
    """One after the other, alternating hosts: the back-off one host set holds on the other,
    and the limit counts the failures of both."""
    first, second = cluster.hosts
    password = cluster.logins["auditor.al"]
    with first.client() as a, second.client() as b:
        for http in (a, b, a):
            assert _login(http, "auditor.al", "wrong").status_code == 401
        # The third failure asks for a second's pause, on every host.
        assert _login(b, "auditor.al", "wrong").json()["error"] == "slow_down"
        time.sleep(1.1)
        assert _login(b, "auditor.al", "wrong").status_code == 401  # the fourth: locked
        for http in (a, b):
            refused = _login(http, "auditor.al", password)
            assert (refused.status_code, refused.json()["error"]) == (429, "locked")


def test_failures_at_once_on_both_hosts_lock_at_the_limit(cluster: Cluster) -> None:
    """Wrong passwords sent together to both hosts, round after round (pausing as told):
    exactly the limit's worth are counted (401) before the account is locked, so no failure
    was lost to a race between the hosts' counts, and then it is locked on both."""
    clients = [host.client() for host in cluster.hosts]
    counted = 0
    try:
        for _ in range(LOCKOUT_THRESHOLD * 2):
            with ThreadPoolExecutor(len(clients)) as pool:
                answers = list(pool.map(lambda http: _login(http, "research.rae", "x"), clients))
            counted += sum(answer.status_code == 401 for answer in answers)
            refusals = {answer.json().get("error") for answer in answers}
            if "locked" in refusals:
                break
            waits = [int(answer.headers.get("retry-after", "0")) for answer in answers]
            time.sleep(max(waits))
        assert counted == LOCKOUT_THRESHOLD
        for http in clients:
            refused = _login(http, "research.rae", cluster.logins["research.rae"])
            assert (refused.status_code, refused.json()["error"]) == (429, "locked")
    finally:
        for http in clients:
            http.close()


def _phi_page(marker: str) -> dict[str, str]:
    """A page whose every SSN is asked under the alias `marker`: its audit record names it."""
    return {"query": f"{{ patients(first: 2) {{ edges {{ node {{ {marker}: ssn }} }} }} }}"}


def _sealed_through(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    """`phigate audit verify` once every row is sealed (the hosts' sealers run every second)."""
    deadline = time.monotonic() + 30
    while True:
        verified = cluster.cli("audit", "verify")
        if " 0 not sealed yet" in verified.stdout or time.monotonic() > deadline:
            return verified
        time.sleep(0.5)


def test_both_hosts_seal_one_chain(cluster: Cluster, physician: dict[str, str]) -> None:
    with cluster.hosts[0].client() as a, cluster.hosts[1].client() as b:
        for n in range(30):
            for http in (a, b):
                assert http.post("/graphql", json=_phi_page(f"c{n}"), headers=physician).is_success
    verified = _sealed_through(cluster)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.startswith("OK: ")
    seals = cluster.sql(
        "SELECT batch, prev_digest, digest, row_count FROM audit_seal ORDER BY batch"
    )
    assert [seal["batch"] for seal in seals] == list(range(1, len(seals) + 1))
    # One head: every seal but the last is the one the next continues from, and none other.
    digests = [bytes(seal["digest"]) for seal in seals]
    assert [bytes(seal["prev_digest"]) for seal in seals[1:]] == digests[:-1]
    rows = cluster.sql("SELECT count(*) AS n FROM audit_event")[0]["n"]
    assert sum(seal["row_count"] for seal in seals) == rows


def test_a_host_killed_mid_load_loses_no_audit_record_of_a_response(
    cluster: Cluster, physician: dict[str, str]
) -> None:
    """Clients load both hosts through the balancer; one host's process group is killed
    (SIGKILL: no shutdown of any kind). Every page of PHI a client received has its audit
    record, found by the response's request id and the alias only that request asked under."""
    received: list[tuple[str, str]] = []
    stop = threading.Event()

    def load(worker: int) -> None:
        with cluster.lb() as http:
            for n in itertools.count():
                if stop.is_set():
                    return
                marker = f"k{worker}_{n}"
                with contextlib.suppress(httpx.TransportError):
                    answer = http.post("/graphql", json=_phi_page(marker), headers=physician)
                    if answer.status_code == 200 and _ssns(answer.json(), marker):
                        received.append((answer.headers["x-request-id"], marker))

    victim = cluster.hosts[0]
    threads = [threading.Thread(target=load, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    try:
        _wait_for(lambda: sum(victim.served(i) for i, _ in received[-40:]) >= 5)
        os.killpg(victim.server.process.pid, signal.SIGKILL)
        victim.server.process.wait()
        before_kill = len(received)
        _wait_for(lambda: len(received) >= before_kill + 40)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    ids = [request_id for request_id, _ in received]
    rows = cluster.sql(
        "SELECT request_id, phi_fields FROM audit_event "
        "WHERE event = 'PHI_ACCESS' AND request_id = ANY($1)",
        ids,
    )
    audited = {
        (row["request_id"], marker)
        for row in rows
        for marker in [m for i, m in received if i == row["request_id"]]
        if f"Patient.ssn@{marker}" in row["phi_fields"]
    }
    assert [pair for pair in received if pair not in audited] == []
    assert any(victim.served(i) for i in ids[:before_kill])
    # Back up on its port, for whatever runs next.
    cluster.hosts[0] = _start_host(cluster, victim.name, victim.port)
    _wait_until_balanced(cluster)


def _ssns(body: dict[str, Any], marker: str) -> list[str]:
    return [
        edge["node"][marker] for edge in body["data"]["patients"]["edges"] if edge["node"][marker]
    ]


def _wait_for(condition: Any, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No background sealer in the test's own app: it would seal the rows itself while the
    sealer under test starts up, and the test would see none left to seal."""
    return replace(settings, audit_seal_interval=timedelta(0))


@pytest.fixture(scope="session")
def faketime() -> str:
    """Debian's libfaketime: one process's clock set apart from the others'."""
    return debian_tool("faketime", "faketime")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_host_whose_clock_runs_ahead_seals_no_row_yet_to_settle(
    app: Starlette, database_url: str, master_key: str, tmp_path: Path, faketime: str
) -> None:
    """Rows settle by the database's clock: a sealer on a host an hour ahead takes none of the
    rows the database recorded within the settle window (it could seal past a lower id still
    being inserted, and `audit verify` would then call that row inserted)."""
    for n in range(3):
        await record_event(
            AuthEvent.LOGIN_FAILED, Actor(), at=datetime.now(UTC), request_id=f"r{n}", ip=None
        )
    env = {
        **os.environ,
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_DATA_DIR": str(tmp_path),
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    seal = [sys.executable, "-m", "api.cli", "audit", "seal"]

    def run(*command: str, settle: int) -> str:
        done = subprocess.run(
            command, env={**env, "PHIGATE_AUDIT_SETTLE_SECONDS": str(settle)},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert run(faketime, "-f", "+1h", *seal, settle=60) == "sealed 0 audit rows"
    assert run(*seal, settle=0) == "sealed 3 audit rows"  # they were there to be sealed
