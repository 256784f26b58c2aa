"""Load test: phigate on PostgreSQL with 2 uvicorn workers, driven over loopback by wrk.

    python -m bench.load [--seconds 15] [--connections 16] [--workers 2]
    python -m bench.load --scale 2000 --scale 1000000 [--rounds 2] [...]

Starts a throwaway PostgreSQL cluster, seeds demo data, logs a physician in (password + TOTP),
serves over TLS with N workers, runs wrk for a single-patient query with session auth, and then
checks the audit table: every completed request must have exactly one record per PHI field.
Goal on a 2-core machine: >= 800 req/s, p99 < 50 ms, 0 errors, 0 lost audit records.
bench/mixed_load.py drives the same server with reads and writes.

With `--scale`, the same against bench.scale_seed's kept databases of those sizes (seeded
first if missing): the physician is `bench.doc` (a care team of 1,000 at every size), asking
for `SCALE_PATIENTS` of its patients in turn, the sizes taking turns for `--rounds`. Goal
(issue 21): the largest size within 10% of the smallest's throughput, as the median of the
rounds' ratios.
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
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pyotp

from api.auth.passwords import hash_password
from bench import scale_seed
from tests.live import LiveServer, live_server
from tests.pgcluster import throwaway_database

QUERY = (
    "query($id: ID!) { patient(id: $id) { givenName familyName birthDate ssn mrn phone email } }"
)
PHI_FIELDS = 7
LUA = Path(__file__).with_name("wrk_graphql.lua")
SCALE_PATIENTS = 100
"""Patients asked for in turn at scale: a physician's hour well within the export budget (500
distinct patients), spread over the care team's rows of the table."""


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


@contextlib.contextmanager
def scale_database(patients: int, admin_url: str | None) -> Iterator[Demo]:
    """bench.scale_seed's database of `patients` (on the server at `admin_url`, or the kept
    cluster), with `bench.doc` given a fresh password and no authenticator (it enrols again at
    login, as a demo login does)."""
    url = asyncio.run(scale_seed.ensure(admin_url or scale_seed.cluster(), patients))
    password = secrets.token_urlsafe(16)
    asyncio.run(_fresh_login(url, "bench.doc", password))
    env = {
        "PHIGATE_DATABASE_URL": url,
        "PHIGATE_MASTER_KEY": base64.urlsafe_b64encode(scale_seed.master_key()).decode(),
        "PHIGATE_ENV": "production",
    }
    yield Demo(url, env, Path(tempfile.mkdtemp(prefix="phigate-load-")), {"bench.doc": password})


async def _fresh_login(url: str, username: str, password: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE app_user SET password_hash = $1, totp_secret = NULL, totp_confirmed = false,"
            " totp_last_step = NULL, must_change_password = false WHERE username = $2",
            hash_password(password), username,
        )  # fmt: skip
    finally:
        await conn.close()


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
    rate = _rate(summary)
    print(f"workers={args.workers} connections={args.connections} seconds={args.seconds}")
    print(f"throughput   {rate:8.1f} req/s")
    print(
        f"latency      p50 {summary['p50_ms']} ms   p95 {summary['p95_ms']} ms   "
        f"p99 {summary['p99_ms']} ms"
    )
    print(f"errors       non-2xx {summary['non2xx']}   socket {summary['socket_errors']}")


async def read_records(url: str, since: datetime | None = None) -> dict[str, int]:
    """Requests with PHI_ACCESS records (since `since`), by how many fields their records list."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT request_id, sum(json_array_length(o.value)) AS n "
            "FROM audit_event, json_each(phi_fields::json) AS o "
            "WHERE event = 'PHI_ACCESS' AND at >= $1 GROUP BY request_id",
            since or datetime.min.replace(tzinfo=UTC),
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
    parser.add_argument(
        "--scale", type=int, action="append", help="a kept database of this many patients"
    )
    parser.add_argument("--rounds", type=int, default=2, help="runs of each size (--scale)")
    parser.add_argument(
        "--admin-url", help="--scale: a PostgreSQL server to seed in (default: the kept cluster)"
    )
    return parser.parse_args()


def _rate(summary: dict[str, str]) -> float:
    return int(summary["requests"]) / float(summary["seconds"])


def scale_run(size: int, args: argparse.Namespace) -> tuple[dict[str, str], int]:
    """One wrk run against the database of `size` patients: its summary, and how many
    completed requests lack their audit records."""
    with scale_database(size, args.admin_url) as db:
        started = datetime.now(UTC)
        with live_server(db.env, db.folder, "--workers", str(args.workers)) as server:
            token = login(server, "bench.doc", db.passwords["bench.doc"])
            ids = ",".join(patient_ids(server, token, SCALE_PATIENTS))
            env = {"PHIGATE_TOKEN": token, "PHIGATE_QUERY": QUERY, "PHIGATE_IDS": ids}
            summary = run_wrk(server, LUA, env, args)
        recorded = asyncio.run(read_records(db.url, started))
    completed = int(summary["requests"]) - int(summary["non2xx"])
    return summary, max(0, completed - recorded.get(str(PHI_FIELDS), 0))


def at_scale(args: argparse.Namespace) -> None:
    sizes = sorted(set(args.scale))
    runs: dict[int, list[tuple[dict[str, str], int]]] = {size: [] for size in sizes}
    for _ in range(args.rounds):
        for size in sizes:
            runs[size].append(scale_run(size, args))
            print(f"{size:>9,} patients: {_rate(runs[size][-1][0]):7.1f} req/s", flush=True)
    print(
        f"workers={args.workers} connections={args.connections} seconds={args.seconds}"
        f" rounds={args.rounds}; {SCALE_PATIENTS} patients of bench.doc's care team in turn"
    )
    rates = {}
    for size, done in runs.items():
        rates[size] = statistics.median(_rate(summary) for summary, _ in done)
        p99 = statistics.median(float(summary["p99_ms"]) for summary, _ in done)
        errors = sum(int(s["non2xx"]) + int(s["socket_errors"]) for s, _ in done)
        lost = sum(lost for _, lost in done)
        print(
            f"{size:>9,} patients  {rates[size]:7.1f} req/s (median)  p99 {p99:.2f} ms"
            f"  errors {errors}  audit records lost {lost}"
        )
    smallest, largest = sizes[0], sizes[-1]
    # Each round's sizes ran back to back: their ratio is what one machine state says.
    ratios = [
        _rate(big) / _rate(small)
        for (small, _), (big, _) in zip(runs[smallest], runs[largest], strict=True)
    ]
    print(
        f"{largest:,} / {smallest:,}: {statistics.median(ratios):.2f}x the throughput (median of"
        f" per-round ratios {', '.join(f'{r:.2f}' for r in ratios)}; goal >= 0.90x)"
    )


def main() -> None:
    args = arguments(__doc__)
    wrk_binary()
    if args.scale:
        at_scale(args)
        return
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
