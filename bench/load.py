"""Load test: phigate on PostgreSQL with 2 uvicorn workers, driven over loopback by wrk.

    python -m bench.load [--seconds 15] [--connections 16] [--workers 2]

Starts a throwaway PostgreSQL cluster, seeds demo data, logs a physician in (password + TOTP),
serves over TLS with N workers, runs wrk for a single-patient query with session auth, and then
checks the audit table: every completed request must have exactly one record per PHI field.
Goal on a 2-core machine: >= 800 req/s, p99 < 50 ms, 0 errors, 0 lost audit records.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pyotp

from tests.live import live_server
from tests.pgcluster import throwaway_database

QUERY = (
    "query($id: ID!) { patient(id: $id) { givenName familyName birthDate ssn mrn phone email } }"
)
PHI_FIELDS = 7
LUA = Path(__file__).with_name("wrk_graphql.lua")


def _wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    return path


def _login(http: httpx.Client, username: str, password: str) -> str:
    step = http.post("/auth/login", json={"username": username, "password": password}).json()
    enrolment = http.post("/auth/mfa/enrol", json={"mfa_token": step["mfa_token"]}).json()
    secret = enrolment["otpauth_uri"].split("secret=")[1].split("&")[0]
    code = pyotp.TOTP(secret).at(datetime.now(UTC))
    done = http.post("/auth/mfa", json={"mfa_token": step["mfa_token"], "code": code})
    token: str = done.json()["token"]
    return token


async def _audit_check(url: str, completed: int) -> tuple[int, int]:
    """(requests with a full set of records, requests with a partial or excess set)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT request_id, sum(json_array_length(o.value)) AS n "
            "FROM audit_event, json_each(phi_fields::json) AS o "
            "WHERE event = 'PHI_ACCESS' GROUP BY request_id"
        )
    finally:
        await conn.close()
    full = sum(1 for r in rows if r["n"] == PHI_FIELDS)
    return full, len(rows) - full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    wrk = _wrk()
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
            [*cli, "demo", "--patients", "200"], env=run_env, check=True, capture_output=True,
            text=True,
        )  # fmt: skip
        password = re.search(r"dr\.grey\s+physician\s+(\S+)", seeded.stdout)
        assert password is not None
        with live_server(env, folder, "--workers", str(args.workers)) as server:
            with server.client() as http:
                token = _login(http, "dr.grey", password[1])
                auth = {"authorization": f"Bearer {token}"}
                page = http.post(
                    "/graphql", json={"query": "{ patients(first: 1) { edges { node { id } } } }"},
                    headers=auth,
                ).json()  # fmt: skip
                patient = page["data"]["patients"]["edges"][0]["node"]["id"]
                body = json.dumps({"query": QUERY, "variables": {"id": patient}})
                check = http.post(
                    "/graphql", content=body, headers={**auth, "content-type": "application/json"}
                )
                assert "errors" not in check.json(), check.text
            result = subprocess.run(
                [
                    wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
                    "-s", str(LUA), f"{server.url}/graphql",
                ],
                env={**os.environ, "PHIGATE_TOKEN": token, "PHIGATE_QUERY_JSON": body},
                capture_output=True, text=True, check=True,
            )  # fmt: skip
        summary = dict(item.split("=") for item in result.stdout.split("RESULT ")[1].split())
        completed = int(summary["requests"]) - int(summary["non2xx"])
        full, partial = asyncio.run(_audit_check(url, completed))
    rate = int(summary["requests"]) / float(summary["seconds"])
    print(f"workers={args.workers} connections={args.connections} seconds={args.seconds}")
    print(f"throughput   {rate:8.1f} req/s       (goal >= 800)")
    print(
        f"latency      p50 {summary['p50_ms']} ms   p95 {summary['p95_ms']} ms   "
        f"p99 {summary['p99_ms']} ms   (goal p99 < 50 ms)"
    )
    print(f"errors       non-2xx {summary['non2xx']}   socket {summary['socket_errors']}")
    lost = max(0, completed - full)
    print(
        f"audit        {full} requests fully recorded ({PHI_FIELDS} fields each) for {completed} "
        f"completed; partial sets {partial}; lost {lost}"
    )


if __name__ == "__main__":
    ssl.create_default_context()  # fail early if the ssl module is unusable
    main()
