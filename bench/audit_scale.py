"""The audit trail at 1, 10 and 50 million rows: what grows with the table and what does not.

    python -m bench.audit_scale [--rows 1000000 --rows 10000000 ...] [--rounds 7] [--new 10000]
                                [--full-up-to 10000000] [--seed-only] [--port 55433]

Each size gets its own database `phigate_audit_<rows>` in a PostgreSQL cluster kept under
`.bench-pg-audit/` (port 55433, not in git), seeded once and reused: a small population
(bench/scale_seed.py, 2,000 patients) and `rows` audit records of the real shape over the twelve
months before now, sealed into the real chain (row hashes, batch digests, HMACs under the
database's audit key) and written by `COPY` into the monthly partitions. The generator records
the head as an authentic `verified` checkpoint, as a full `audit verify` would.

Measured, at every size:
- in process, interleaved rounds (medians): one patient's 7 fields read by a physician (the
  request path, whose audit insert goes to the partitioned table), the auditor's query by actor
  in a month, by patient, and a patient's `myAccessLog`;
- the sealer's throughput on `--new` fresh rows, then `audit verify` incremental (those rows)
  against full (every row; only up to `--full-up-to` rows, larger sizes are extrapolated from the
  largest measured, linearly, and labelled so).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise

from api.db import migrate, tortoise_config
from audit.chain import COLUMNS, GENESIS, batch_digest, pack_entries, row_hash
from audit.checkpoint import VERIFIED, Position, record
from audit.partitions import add_months, month_of
from audit.sealer import BATCH_SIZE, seal_pending
from audit.verify import verify_chain
from bench import scale_seed
from bench.scale import Worker, answer_rounds, interleaved
from crypto.audit_mac import AuditKeys
from crypto.provider import LocalKeyProvider
from models import Organization, Patient, User
from models.keystore import load_audit_keys
from permissions.roles import Role
from tests.pgcluster import find_bin_dir, start_cluster

ROOT = Path(__file__).resolve().parent.parent / ".bench-pg-audit"
PORT = 55433
SETTINGS = "-c shared_buffers=1GB -c maintenance_work_mem=256MB -c max_wal_size=8GB"
PATIENTS = 2000
"""The population the request path reads (bench.doc's team); audit rows name many more."""
SPAN = timedelta(days=365)
ACTORS = 2000
CHUNK = 20_000
FIELDS = json.dumps(
    {"patient": ["Patient.givenName", "Patient.familyName", "Patient.birthDate", "Patient.ssn"]},
    separators=(",", ":"),
)
AUDITOR, PORTAL = "bench.auditor", "bench.portal"
REQUEST = "patient(id) 7 fields"
QUERIES = {
    "auditEvents(actor, one month)": (
        AUDITOR,
        '{ auditEvents(filter: {actor: "$ACTOR", from: "$FROM", to: "$TO"}, first: 50) '
        "{ edges { node { id at patient fields { field } } } } }",
    ),
    "auditEvents(patient)": (
        AUDITOR,
        '{ auditEvents(filter: {patient: "$PATIENT"}, first: 50) '
        "{ edges { node { id at actor fields { field } } } } }",
    ),
    "myAccessLog(first: 50)": (
        PORTAL,
        "{ myAccessLog(first: 50) { edges { node { at actor role username fields } } } }",
    ),
}


def cluster(port: int) -> str:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found (set PHIGATE_PG_BIN)")
    ROOT.mkdir(exist_ok=True)
    user = "postgres" if os.geteuid() == 0 else getpass.getuser()
    if (ROOT / "data" / "postmaster.pid").exists():
        return f"postgres://{user}@127.0.0.1:{port}/postgres"
    return start_cluster(bin_dir, ROOT, port, SETTINGS)


def database_url(admin_url: str, rows: int) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/phigate_audit_{rows}"


def _public_id(prefix: str, n: int) -> str:
    """Shaped like the product's (prefix and 22 url-safe characters), and stable per n."""
    return f"{prefix}_{hashlib.sha256(f'{prefix}{n}'.encode()).hexdigest()[:22]}"


def audit_rows(
    count: int, first_id: int, start: datetime, end: datetime
) -> Iterator[tuple[Any, ...]]:
    """`count` records in `COLUMNS` order, ids from `first_id`, times evenly from start to end:
    mostly PHI reads (a request's patients share its request id), some security events.
    Patients: a pool of count/50, drawn evenly (about 50 accesses each at every size, so
    `myAccessLog` compares like with like); actors: ACTORS staff, skewed (the busiest, 0, has
    about 2% of the rows: a busy actor grows with the hospital)."""
    rng = random.Random(first_id)  # noqa: S311 - synthetic data
    step = (end - start) / max(count, 1)
    patients = max(count // 50, 100)
    for n in range(count):
        at = start + step * n
        actor_n = int(ACTORS * rng.random() ** 2)
        role = ("physician", "nurse", "front_desk", "billing")[actor_n % 4]
        request = f"req_{(first_id + n) // 4:020x}"
        security = rng.random() < 0.03
        patient = None if security else _public_id("pat", int(patients * rng.random()))
        decision = None if security else rng.choices(("ALLOW", "MASK", "DENY"), (80, 15, 5))[0]
        yield (
            first_id + n,
            at,
            request,
            "LOGIN_OK" if security else "PHI_ACCESS",
            _public_id("usr", actor_n),
            role,
            None,
            "SECURITY" if security else "TREATMENT",
            "10.1.0.7",
            patient,
            decision,
            None if security else FIELDS,
            None,
            at,
        )


class ChainWriter:
    """Seals rows as the sealer would (batches of BATCH_SIZE, never across a month)."""

    def __init__(self, keys: AuditKeys) -> None:
        self.keys = keys
        self.batch, self.digest, self.last_id, self.sealed = 0, GENESIS, 0, 0
        self._pending: list[tuple[int, bytes]] = []
        self._month: object = None
        self.seals: list[tuple[Any, ...]] = []

    def add(self, row: tuple[Any, ...]) -> None:
        month = month_of(row[1])
        if self._pending and (len(self._pending) == BATCH_SIZE or month != self._month):
            self.close_batch()
        self._month = month
        self._pending.append((row[0], row_hash(row)))

    def close_batch(self) -> None:
        if not self._pending:
            return
        self.batch += 1
        entries = pack_entries(self._pending)
        first_id, last_id = self._pending[0][0], self._pending[-1][0]
        prev, self.digest = (
            self.digest,
            batch_digest(self.digest, self.batch, first_id, last_id, entries),
        )
        version = self.keys.primary
        self.seals.append(
            (
                self.batch,
                first_id,
                last_id,
                len(self._pending),
                entries,
                prev,
                self.digest,
                version,
                self.keys.mac(self.digest, version),
                datetime.now(UTC),
            )
        )
        self.last_id, self.sealed = last_id, self.sealed + len(self._pending)
        self._pending = []

    def take_seals(self) -> list[tuple[Any, ...]]:
        seals, self.seals = self.seals, []
        return seals


_SEAL_COLUMNS = [
    "batch",
    "first_id",
    "last_id",
    "row_count",
    "entries",
    "prev_digest",
    "digest",
    "key_version",
    "mac",
    "sealed_at",
]


async def _population(url: str) -> None:
    """bench/scale_seed's population, an auditor, and a portal user who is one of the most
    accessed patients of the audit rows."""
    await scale_seed.seed(url, PATIENTS)
    await Tortoise.init(config=tortoise_config(url))
    try:
        org = await Organization.get(name="bench-scale")
        await User.create(
            username=AUDITOR, role=Role.AUDITOR, organization=org, password_hash=scale_seed.NO_LOGIN
        )
        portal = await User.create(
            username=PORTAL, role=Role.PATIENT, organization=org, password_hash=scale_seed.NO_LOGIN
        )
        patient = await Patient.filter(user_id=None).order_by("id").first()
        assert patient is not None
        conn = await asyncpg.connect(url)
        try:
            # The portal user's record is the audit rows' patient number 7.
            await conn.execute(
                "UPDATE patient SET user_id = $1, public_id = $2 WHERE id = $3",
                portal.id,
                _public_id("pat", 7),
                patient.id,
            )
        finally:
            await conn.close()
    finally:
        await Tortoise.close_connections()


async def seed(url: str, rows: int) -> float:
    await _population(url)
    await Tortoise.init(config=tortoise_config(url))
    conn = await asyncpg.connect(url)
    end = datetime.now(UTC) - timedelta(days=1)
    start = end - SPAN
    try:
        keys = await load_audit_keys(LocalKeyProvider(scale_seed.master_key()))
        await conn.execute(
            "SELECT phigate_audit_partitions($1, $2)",
            month_of(start),
            add_months(month_of(end), 2),
        )
        chain = ChainWriter(keys)
        started = time.perf_counter()
        generated = audit_rows(rows, 1, start, end)
        done = 0
        while done < rows:
            chunk = [next(generated) for _ in range(min(CHUNK, rows - done))]
            for row in chunk:
                chain.add(row)
            done += len(chunk)
            if done == rows:
                chain.close_batch()
            await conn.copy_records_to_table("audit_event", records=chunk, columns=list(COLUMNS))
            await conn.copy_records_to_table(
                "audit_seal", records=chain.take_seals(), columns=_SEAL_COLUMNS
            )
            if done % (CHUNK * 50) == 0 or done == rows:
                rate = done / (time.perf_counter() - started)
                print(f"  {done:>11,} audit rows, {rate:,.0f}/s", flush=True)
        await conn.execute(f"SELECT setval('audit_event_id_seq', {rows})")
        await record(
            keys, VERIFIED, Position(chain.batch, chain.last_id, chain.digest, chain.sealed)
        )
        seconds = time.perf_counter() - started
        await conn.execute("ANALYZE")
        await conn.execute("CREATE TABLE bench_audit_seeded (rows bigint, seconds float8)")
        await conn.execute("INSERT INTO bench_audit_seeded VALUES ($1, $2)", rows, seconds)
    finally:
        await conn.close()
        await Tortoise.close_connections()
    return seconds


async def ensure(admin_url: str, rows: int) -> str:
    url = database_url(admin_url, rows)
    name = f"phigate_audit_{rows}"
    admin = await asyncpg.connect(admin_url)
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            conn = await asyncpg.connect(url)
            try:
                done = await conn.fetchval("SELECT to_regclass('bench_audit_seeded') IS NOT NULL")
            finally:
                await conn.close()
            if done:
                return url
            await admin.execute(f'DROP DATABASE "{name}"')  # an interrupted seeding
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(url)
    seconds = await seed(url, rows)
    print(f"seeded {rows:,} audit rows in {seconds:,.0f} s: {rows / seconds:,.0f}/s", flush=True)
    return url


class AuditWorker(Worker):
    """bench/scale.py's worker, with the auditor's and the portal user's queries."""

    async def start(self, names: list[str]) -> None:
        await super().start([REQUEST])
        for username in (AUDITOR, PORTAL):
            self.users[username] = await User.get(username=username)
        month = month_of(datetime.now(UTC) - timedelta(days=40))
        values = {
            "$ACTOR": _public_id("usr", 0),
            "$PATIENT": _public_id("pat", 7),
            "$FROM": f"{month}T00:00:00Z",
            "$TO": f"{add_months(month, 1)}T00:00:00Z",
        }
        for name, (who, query) in QUERIES.items():
            for key, value in values.items():
                query = query.replace(key, value)
            self.queries[name] = (who, query)
        await self.round(names)


async def serve(url: str) -> None:
    worker = AuditWorker(url, explain=False)
    names = [REQUEST, *QUERIES]
    await worker.start(names)
    try:
        await answer_rounds(worker, names)
    finally:
        await Tortoise.close_connections()


def requests(urls: dict[int, str], rounds: int) -> dict[int, dict[str, float]]:
    workers = {
        size: subprocess.Popen(
            [sys.executable, "-m", "bench.audit_scale", "--worker", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for size, url in urls.items()
    }
    return interleaved(workers, rounds)


async def chain_costs(url: str, new: int, full: bool) -> dict[str, float]:
    """Seal `new` fresh rows, then verify: incremental (the new rows) and, if `full`, all."""
    await Tortoise.init(config=tortoise_config(url))
    conn = await asyncpg.connect(url)
    try:
        keys = await load_audit_keys(LocalKeyProvider(scale_seed.master_key()))
        # Fresh rows a minute old: settled, unsealed, in this month's partition.
        first = int(await conn.fetchval("SELECT max(id) FROM audit_event")) + 1
        now = datetime.now(UTC)
        fresh = list(audit_rows(new, first, now - timedelta(minutes=2), now - timedelta(minutes=1)))
        await conn.copy_records_to_table("audit_event", records=fresh, columns=list(COLUMNS))
        await conn.execute(f"SELECT setval('audit_event_id_seq', {first + new})")
        out: dict[str, float] = {}
        started = time.perf_counter()
        sealed = await seal_pending(keys, timedelta(0))
        out["sealer rows/s"] = sealed / (time.perf_counter() - started)
        started = time.perf_counter()
        report = await verify_chain(keys, keep_checkpoint=True)
        out["verify incremental s"] = time.perf_counter() - started
        out["verify incremental rows"] = report.rows_read
        assert report.problem is None, report.problem
        if full:
            started = time.perf_counter()
            report = await verify_chain(keys, full=True)
            out["verify full s"] = time.perf_counter() - started
            out["verify full rows"] = report.rows_read
            assert report.problem is None, report.problem
        return out
    finally:
        await conn.close()
        await Tortoise.close_connections()


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(medians: dict[int, dict[str, float]], costs: dict[int, dict[str, float]]) -> str:
    sizes = sorted(medians)
    small, large = sizes[0], sizes[-1]
    lines = [
        "| measure | " + " | ".join(f"{s:,} rows" for s in sizes) + f" | {large:,} / {small:,} |",
        "|---" * (len(sizes) + 2) + "|",
    ]
    for name in medians[small]:
        cells = " | ".join(_ms(medians[s][name]) for s in sizes)
        lines.append(f"| `{name}` | {cells} | {medians[large][name] / medians[small][name]:.2f}x |")
    measured_full = [s for s in sizes if "verify full s" in costs[s]]
    per_row = (
        costs[max(measured_full)]["verify full s"] / max(measured_full) if measured_full else None
    )
    for name in (
        "sealer rows/s",
        "verify incremental s",
        "verify incremental rows",
        "verify full s",
        "verify full rows",
    ):
        shown = []
        for s in sizes:
            value = costs[s].get(name)
            if value is None and name == "verify full s" and per_row is not None:
                shown.append(f"~{per_row * s:,.0f} s (extrapolated)")
            elif value is None:
                shown.append("-")
            elif name.endswith(" s"):
                shown.append(_ms(value))
            else:
                shown.append(f"{value:,.0f}")
        low, high = costs[small].get(name), costs[large].get(name)
        ratio = f"{high / low:.2f}x" if low and high else "-"
        lines.append(f"| {name} | {' | '.join(shown)} | {ratio} |")
    return "\n".join(lines)


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, action="append")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--full-up-to", type=int, default=10_000_000)
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--port", type=int, default=PORT, help="of the kept cluster")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(serve(args.worker))
        return
    sizes = sorted(args.rows or [1_000_000, 10_000_000, 50_000_000])
    admin_url = cluster(args.port)
    urls = {size: asyncio.run(ensure(admin_url, size)) for size in sizes}
    if args.seed_only:
        return
    medians = requests(urls, args.rounds)
    costs = {
        size: asyncio.run(chain_costs(url, args.new, size <= args.full_up_to))
        for size, url in urls.items()
    }
    print(
        f"\nPostgreSQL, audit_event partitioned by month; requests: medians of {args.rounds} "
        f"interleaved rounds in process; sealing and verify: {args.new:,} new rows\n"
    )
    print(report(medians, costs))


if __name__ == "__main__":
    run()
