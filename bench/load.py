"""Load test: phigate on PostgreSQL with 2 uvicorn workers, driven over loopback by wrk.

    python -m bench.load [--seconds 15] [--connections 16] [--workers 2]

Starts a throwaway PostgreSQL cluster, seeds demo data, logs a physician in (password + TOTP),
serves over TLS with N workers, runs wrk for a single-patient query with session auth, and then
checks the audit table: every completed request must have exactly one record per PHI field.
Goal on a 2-core machine: >= 800 req/s, p99 < 50 ms, 0 errors, 0 lost audit records.
bench/mixed_load.py drives the same server with reads and writes.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pyotp

from tests.live import LiveServer, live_server
from tests.pgcluster import throwaway_database

QUERY = (
    "query($id: ID!) { patient(id: $id) { givenName familyName birthDate ssn mrn phone email } }"
)
PHI_FIELDS = 7
LUA = Path(__file__).with_name("wrk_graphql.lua")


def wrk_binary() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return path


@dataclass(frozen=True)
class Demo:
    """A migrated PostgreSQL database with the demo data, and what serving it needs."""

    url: str
    env: dict[str, str]
    folder: Path
    passwords: dict[str, str]
    """Each demo login's fresh password, by username."""


@contextlib.contextmanager
def demo_database(patients: int) -> Iterator[Demo]:
    folder = Path(tempfile.mkdtemp(prefix="phigate-load-"))
    with throwaway_database() as url:
        env = {
            "PHIGATE_DATABASE_URL": url,
            "PHIGATE_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "PHIGATE_ENV": "production",
            "PHIGATE_DATA_DIR": str(folder),
        }
        run_env = {**os.environ, **env}
        cli = [sys.executable, "-m", "api.cli"]
        subprocess.run([*cli, "migrate"], env=run_env, check=True, capture_output=True)
        seeded = subprocess.run(
            [*cli, "demo", "--patients", str(patients)], env=run_env, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        logins = re.findall(r"^\s+(\S+)\s+\S+\s+(\S+)$", seeded.stdout, re.MULTILINE)
        yield Demo(url, env, folder, dict(logins))


def login(server: LiveServer, username: str, password: str) -> str:
    """A session token for a demo user: password, then TOTP enrolment and a code."""
    with server.client() as http:
        step = http.post("/auth/login", json={"username": username, "password": password}).json()
        enrolment = http.post("/auth/mfa/enrol", json={"mfa_token": step["mfa_token"]}).json()
        secret = enrolment["otpauth_uri"].split("secret=")[1].split("&")[0]
        code = pyotp.TOTP(secret).at(datetime.now(UTC))
        done = http.post("/auth/mfa", json={"mfa_token": step["mfa_token"], "code": code})
    token: str = done.json()["token"]
    return token


def graphql(server: LiveServer, token: str, query: str, variables: dict[str, object]) -> object:
    """One request outside the load: its data, or an error if it has errors."""
    with server.client() as http:
        body = http.post(
            "/graphql", json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        ).json()  # fmt: skip
    if "errors" in body:
        raise RuntimeError(body["errors"])
    return body["data"]


def patient_ids(server: LiveServer, token: str, first: int) -> list[str]:
    """The first `first` patients the token's user may read."""
    page = graphql(
        server, token, f"{{ patients(first: {first}) {{ edges {{ node {{ id }} }} }} }}", {}
    )
    assert isinstance(page, dict)
    return [edge["node"]["id"] for edge in page["patients"]["edges"]]


def run_wrk(
    server: LiveServer, script: Path, env: dict[str, str], args: argparse.Namespace
) -> dict[str, str]:
    """wrk against the server's /graphql; the `RESULT key=value...` line its script printed."""
    result = subprocess.run(
        [
            wrk_binary(), f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
            "-s", str(script), f"{server.url}/graphql",
        ],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(item.split("=") for item in result.stdout.split("RESULT ")[1].split())


def print_traffic(summary: dict[str, str], args: argparse.Namespace) -> None:
    rate = int(summary["requests"]) / float(summary["seconds"])
    print(f"workers={args.workers} connections={args.connections} seconds={args.seconds}")
    print(f"throughput   {rate:8.1f} req/s")
    print(
        f"latency      p50 {summary['p50_ms']} ms   p95 {summary['p95_ms']} ms   "
        f"p99 {summary['p99_ms']} ms"
    )
    print(f"errors       non-2xx {summary['non2xx']}   socket {summary['socket_errors']}")


async def read_records(url: str) -> dict[str, int]:
    """Requests with PHI_ACCESS records, by how many fields their records list."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT request_id, sum(json_array_length(o.value)) AS n "
            "FROM audit_event, json_each(phi_fields::json) AS o "
            "WHERE event = 'PHI_ACCESS' GROUP BY request_id"
        )
    finally:
        await conn.close()
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row["n"])] = counts.get(str(row["n"]), 0) + 1
    return counts


def arguments(doc: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patients", type=int, default=200, help="demo patients seeded")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__)
    wrk_binary()
    with demo_database(args.patients) as demo:
        with live_server(demo.env, demo.folder, "--workers", str(args.workers)) as server:
            token = login(server, "dr.grey", demo.passwords["dr.grey"])
            patient = patient_ids(server, token, 1)[0]
            graphql(server, token, QUERY, {"id": patient})
            body = json.dumps({"query": QUERY, "variables": {"id": patient}})
            summary = run_wrk(
                server, LUA, {"PHIGATE_TOKEN": token, "PHIGATE_QUERY_JSON": body}, args
            )
        recorded = asyncio.run(read_records(demo.url))
    completed = int(summary["requests"]) - int(summary["non2xx"])
    full = recorded.pop(str(PHI_FIELDS), 0)
    print_traffic(summary, args)
    print("goals        >= 800 req/s, p99 < 50 ms")
    lost = max(0, completed - full)
    print(
        f"audit        {full} requests fully recorded ({PHI_FIELDS} fields each) for {completed} "
        f"completed; partial sets {sum(recorded.values())}; lost {lost}"
    )


if __name__ == "__main__":
    ssl.create_default_context()  # fail early if the ssl module is unusable
    main()
