"""Bulk seeding of a hospital-sized population for the scale benchmark (bench/scale.py).

    python -m bench.scale_seed --patients 100000 [--patients 1000000 ...]

Each size gets its own database `phigate_<size>` in a PostgreSQL cluster kept under
`.bench-pg/` (not in git), seeded once and reused by every later run: a million patients take
a while. Values are sealed with the database's real keyring and carry their blind indexes, as
the product writes them; they go in by `COPY` (asyncpg `copy_records_to_table`) in chunks.

The shape (synthetic, seeded random, the same at every size): every physician has a care team
of a few hundred to a few thousand patients (`bench.doc` exactly `DOC_TEAM` at every size, so
its queries compare like with like); most patients have had encounters (a few none), each
encounter has 0-2 diagnoses, 0-5 observations and maybe a note.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import random
import secrets
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise

from api.db import migrate, tortoise_config
from crypto.blind_index import blind_index
from crypto.keyring import Keyring
from crypto.provider import LocalKeyProvider
from crypto.sealed import binding_for
from models import (
    ClinicalNote,
    Diagnosis,
    Encounter,
    EncounterKind,
    Observation,
    Organization,
    Patient,
    User,
)
from models.base import PublicModel
from models.keystore import load_keyring
from models.people import SHUFFLE_BITS
from models.tally import ReportTally
from ops.tally import rebuild
from permissions.deidentify import report_date
from permissions.roles import Role
from tests.pgcluster import find_bin_dir, start_cluster

ROOT = Path(__file__).resolve().parent.parent / ".bench-pg"
PORT = int(os.environ.get("PHIGATE_BENCH_PG_PORT", "55432"))
"""Overridable so that two worktrees can keep their benchmark clusters side by side."""
SETTINGS = "-c shared_buffers=1GB -c maintenance_work_mem=256MB -c max_wal_size=4GB"
"""A server sized for a million patients on this machine (the default 128 MB of shared buffers
would measure the disk, not the queries)."""
DOC_TEAM = 1000
MEAN_TEAM = 900
CHUNK = 2000
STAFF = {"bench.doc": Role.PHYSICIAN, "bench.desk": Role.FRONT_DESK,
         "bench.billing": Role.BILLING, "bench.research": Role.RESEARCHER}  # fmt: skip
NO_LOGIN = "!"  # not an Argon2 hash: these users cannot log in

GIVEN = ("Alex", "Blair", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan", "Kai", "Logan",
         "Morgan", "Noel", "Parker", "Quinn", "Reese", "Sage", "Taylor", "Rowan")  # fmt: skip
FAMILY = ("Testperson", "Sample", "Fakename", "Placeholder", "Fictitious", "Synthetic",
          "Mockwell", "Dummyson", "Exampleton", "Notreal")  # fmt: skip
PLACES = tuple(
    (city, f"{zip3}{n:02d}")
    for city, zip3 in (("Springfield", "627"), ("Riverton", "825"), ("Lakeside", "920"),
                       ("Hillview", "303"), ("Bayport", "021"), ("Fairmont", "554"))
    for n in range(1, 9)
)  # fmt: skip
DIAGNOSES = (
    ("I10", "Essential (primary) hypertension"), ("E11.9", "Type 2 diabetes mellitus"),
    ("E78.5", "Hyperlipidemia, unspecified"), ("J06.9", "Acute upper respiratory infection"),
    ("M54.5", "Low back pain"), ("F41.1", "Generalized anxiety disorder"),
    ("J45.909", "Unspecified asthma"), ("F32.9", "Major depressive disorder"),
    ("K21.9", "Gastro-esophageal reflux disease"), ("E66.9", "Obesity, unspecified"),
    ("N39.0", "Urinary tract infection"), ("I25.10", "Atherosclerotic heart disease"),
    ("J44.9", "Chronic obstructive pulmonary disease"), ("E03.9", "Hypothyroidism"),
    ("M17.9", "Osteoarthritis of knee"), ("G43.909", "Migraine, unspecified"),
    ("I48.91", "Atrial fibrillation"), ("N18.3", "Chronic kidney disease, stage 3"),
    ("L40.0", "Psoriasis vulgaris"), ("C50.919", "Malignant neoplasm of breast"),
)  # fmt: skip
LABS = (("4548-4", "%", 4.0, 12.0), ("2345-7", "mg/dL", 60, 250), ("2093-3", "mg/dL", 120, 300),
        ("718-7", "g/dL", 9, 18), ("2160-0", "mg/dL", 0.5, 3), ("8480-6", "mm[Hg]", 90, 190),
        ("29463-7", "kg", 40, 150), ("6690-2", "10*3/uL", 3, 15))  # fmt: skip
KINDS = (EncounterKind.OUTPATIENT, EncounterKind.VIRTUAL, EncounterKind.EMERGENCY,
         EncounterKind.INPATIENT)  # fmt: skip
KIND_WEIGHTS = (70, 15, 10, 5)
NOTES = ("Patient reports feeling well. Follow up in 3 months.",
         "Medication reviewed and continued. Labs ordered.",
         "Symptoms improving. Advised rest and fluids.")  # fmt: skip
FIRST_DAY = date(2015, 1, 1)


def database_url(admin_url: str, patients: int) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/phigate_{patients}"


def cluster() -> str:
    """The admin URL of the kept benchmark cluster, started if it is not running."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL binaries not found (set PHIGATE_PG_BIN)")
    ROOT.mkdir(exist_ok=True)
    user = "postgres" if os.geteuid() == 0 else getpass.getuser()
    url = f"postgres://{user}@127.0.0.1:{PORT}/postgres"
    pid_file = ROOT / "data" / "postmaster.pid"
    if pid_file.exists():
        if _alive(int(pid_file.read_text().split()[0])):
            return url
        pid_file.unlink()  # left by a machine that stopped without stopping the cluster
    return start_cluster(bin_dir, ROOT, PORT, SETTINGS)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def master_key() -> bytes:
    """The benchmark databases' master key (synthetic data only), kept beside the cluster."""
    path = ROOT / "master.key"
    if not path.exists():
        ROOT.mkdir(exist_ok=True)
        path.write_text(secrets.token_hex(32))
    return bytes.fromhex(path.read_text())


@dataclass
class Sealer:
    """Row values as the product stores them: sealed columns sealed to their row, blind
    indexes beside the looked-up ones, enums as their value."""

    keyring: Keyring
    _columns: dict[type[PublicModel], Mapping[str, str]] = field(default_factory=dict)

    def row(self, model: type[PublicModel], values: dict[str, Any]) -> dict[str, Any]:
        columns = self._columns.get(model)
        if columns is None:
            columns = self._columns[model] = dict(model.sealed_columns())
        public_id = f"{model.PUBLIC_ID_PREFIX}_{secrets.token_urlsafe(16)}"
        out: dict[str, Any] = {"public_id": public_id}
        for name, value in values.items():
            if name in columns and value is not None:
                text = value.value if isinstance(value, EncounterKind) else str(value)
                out[name] = self.keyring.seal(text, binding_for(columns[name], public_id)).blob
            else:
                out[name] = value.value if isinstance(value, EncounterKind) else value
        if model is Patient:
            out["report_shuffle"] = secrets.randbelow(1 << SHUFFLE_BITS)
            for column, kind in Patient._INDEXED.items():
                plain = values.get(column)
                out[f"{column}_index"] = (
                    None if plain is None else blind_index(self.keyring, kind, plain)
                )
        return out


@dataclass
class Batch:
    """One chunk of rows per table, with the next free key of each."""

    next_id: dict[str, int]
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> int:
        key = self.next_id[table]
        self.next_id[table] = key + 1
        self.rows.setdefault(table, []).append({"id": key, **row})
        return key


def _day(rng: random.Random, start: date, span_days: int) -> str:
    return (start + timedelta(days=rng.randrange(max(span_days, 1)))).isoformat()


def _patient(rng: random.Random, n: int, org: int, now: datetime) -> dict[str, Any]:
    city, zip_code = rng.choice(PLACES)
    return {
        "organization_id": org,
        "mrn": f"M{n:09d}",
        "ssn": f"9{rng.randrange(100):02d}-{rng.randrange(1, 100):02d}-"
        f"{rng.randrange(1, 10**4):04d}",
        "given_name": rng.choice(GIVEN),
        "family_name": rng.choice(FAMILY),
        "birth_date": _day(rng, date(1930, 1, 1), 94 * 365),
        "phone": f"555-01{rng.randrange(100):02d}",
        "email": f"patient{n}@example.org",
        "street": f"{rng.randrange(1, 9999)} Example Street",
        "city": city,
        "zip": zip_code,
        "version": 1,
        "created_at": now,
    }


def _clinical(rng: random.Random, sealer: Sealer, batch: Batch, patient: int) -> None:
    # 8% registered but never seen; otherwise 1 + geometric encounters (mean about 4).
    visits = 0 if rng.random() < 0.08 else min(1 + int(rng.expovariate(1 / 3)), 40)
    dx_codes = rng.choices(DIAGNOSES, weights=[1 / (i + 1) for i in range(len(DIAGNOSES))], k=2)
    for _ in range(visits):
        day = _day(rng, FIRST_DAY, 11 * 365)
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        row = sealer.row(Encounter, {"patient_id": patient, "kind": kind, "start_date": day})
        encounter = batch.add("encounter", row)
        for code, description in dx_codes[: rng.choice((0, 0, 1, 1, 2))]:
            values = {"patient_id": patient, "encounter_id": encounter, "code": code,
                      "description": description, "recorded_date": day}  # fmt: skip
            batch.add("diagnosis", sealer.row(Diagnosis, values))
        for loinc, unit, low, high in rng.sample(LABS, rng.randrange(6)):
            values = {"patient_id": patient, "code": loinc, "unit": unit,
                      "value": f"{rng.uniform(low, high):.1f}", "effective_date": day}  # fmt: skip
            batch.add("observation", sealer.row(Observation, values))
        if rng.random() < 0.3:
            values = {"patient_id": patient, "text": rng.choice(NOTES), "authored_date": day}
            batch.add("clinical_note", sealer.row(ClinicalNote, values))


def _teams(rng: random.Random, physicians: list[int], doc: int, patients: int) -> Iterator[int]:
    """Each patient's physician: `doc` for DOC_TEAM of them, the others spread over the
    other physicians with uneven weights (teams of a few hundred to a few thousand)."""
    doc_patients = set(rng.sample(range(patients), min(DOC_TEAM, patients)))
    weights = [rng.uniform(0.3, 3.0) for _ in physicians]
    for n in range(patients):
        yield doc if n in doc_patients else rng.choices(physicians, weights)[0]


async def _copy(conn: asyncpg.Connection, batch: Batch) -> None:
    for table, rows in batch.rows.items():
        columns = list(rows[0])
        records = [tuple(row[c] for c in columns) for row in rows]
        await conn.copy_records_to_table(table, records=records, columns=columns)


async def _staff(patients: int) -> tuple[int, dict[str, int], list[int]]:
    org = await Organization.create(name="bench-scale")
    users = {
        name: (await User.create(username=name, role=role, organization=org,
                                 password_hash=NO_LOGIN)).id
        for name, role in STAFF.items()
    }  # fmt: skip
    others = [
        User(username=f"bench.md{i}", role=Role.PHYSICIAN, organization=org, password_hash=NO_LOGIN)
        for i in range(max(1, (patients - DOC_TEAM) // MEAN_TEAM))
    ]
    await User.bulk_create(others)
    physicians = await User.filter(username__startswith="bench.md")
    return org.id, users, [user.id for user in physicians]


async def seed(url: str, patients: int) -> float:
    """Seed `patients` into the empty, migrated database at `url`; the seconds it took."""
    await Tortoise.init(config=tortoise_config(url))
    try:
        keyring = await load_keyring(LocalKeyProvider(master_key()))
        org, staff, physicians = await _staff(patients)
    finally:
        await Tortoise.close_connections()
    rng = random.Random(21)  # noqa: S311 - synthetic data
    sealer = Sealer(keyring)
    now = datetime.now(UTC)
    tables = ("patient", "encounter", "diagnosis", "observation", "clinical_note",
              "care_team_assignment")  # fmt: skip
    next_id = dict.fromkeys(tables, 1)
    conn = await asyncpg.connect(url)
    started = time.perf_counter()
    try:
        teams = _teams(rng, physicians, staff["bench.doc"], patients)
        for first in range(0, patients, CHUNK):
            batch = Batch(next_id)
            for n in range(first, min(first + CHUNK, patients)):
                patient = sealer.row(Patient, _patient(rng, n, org, now))
                pk = batch.add("patient", patient)
                _clinical(rng, sealer, batch, pk)
                assignment = {"user_id": next(teams), "patient_id": pk, "started_at": now,
                              "patient_public_id": patient["public_id"]}  # fmt: skip
                batch.add("care_team_assignment", assignment)
            await _copy(conn, batch)
            if (first // CHUNK) % 25 == 0:
                rate = (first + CHUNK) / (time.perf_counter() - started)
                print(f"  {first + CHUNK:>9,} patients, {rate:,.0f}/s", flush=True)
        for table in tables:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {next_id[table]})"
            )
        seconds = time.perf_counter() - started
        # As autovacuum leaves a table: statistics, and the visibility map that lets an
        # index-only scan skip the heap.
        await conn.execute("VACUUM (ANALYZE)")
        await conn.execute("CREATE TABLE bench_seeded (patients int, seconds float8)")
        await conn.execute("INSERT INTO bench_seeded VALUES ($1, $2)", patients, seconds)
    finally:
        await conn.close()
    return seconds


async def ensure(admin_url: str, patients: int) -> str:
    """The URL of a database seeded with `patients`, seeding it first if needed."""
    url = database_url(admin_url, patients)
    admin = await asyncpg.connect(admin_url)
    try:
        name = f"phigate_{patients}"
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            if await _seeded(url) is not None:
                await migrate(url)  # indexes added since it was seeded
                await tally(url, patients)
                return url
            await admin.execute(f'DROP DATABASE "{name}"')  # an interrupted seeding
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(url)
    seconds = await seed(url, patients)
    rows = await _row_counts(url)
    print(f"seeded {patients:,} patients in {seconds:,.0f} s: {patients / seconds:,.0f}/s; {rows}")
    await tally(url, patients)
    return url


async def tally(url: str, patients: int) -> None:
    """Builds the report tally (ops/tally.py) as the server would on its first start: seeded
    rows have no write records to take in."""
    await Tortoise.init(config=tortoise_config(url))
    try:
        if await ReportTally.exists():
            return
        keyring = await load_keyring(LocalKeyProvider(master_key()))
        built = await rebuild(keyring, report_date())
        assert built is not None
        print(
            f"report tally of {patients:,} patients: {built.cells:,} cells in "
            f"{built.seconds:,.0f} s ({built.patients / built.seconds:,.0f} patients/s)",
            flush=True,
        )
    finally:
        await Tortoise.close_connections()


async def _seeded(url: str) -> float | None:
    conn = await asyncpg.connect(url)
    try:
        if not await conn.fetchval("SELECT to_regclass('bench_seeded') IS NOT NULL"):
            return None
        return float(await conn.fetchval("SELECT seconds FROM bench_seeded"))
    finally:
        await conn.close()


async def _row_counts(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        counts = []
        for table in ("encounter", "diagnosis", "observation", "clinical_note"):
            n = await conn.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            counts.append(f"{table} {n:,}")
        return ", ".join(counts)
    finally:
        await conn.close()


async def main(sizes: list[int]) -> None:
    admin_url = cluster()
    for size in sizes:
        await ensure(admin_url, size)


def run() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", type=int, action="append", required=True)
    asyncio.run(main(parser.parse_args().patients))


if __name__ == "__main__":
    run()
