"""A raw dump of the demo database holds no plaintext PHI."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.applications import Starlette
from tortoise import connections

from api.demo import seed_demo
from crypto.keyring import Keyring
from models import ClinicalNote, Diagnosis, Encounter, Observation, Patient
from models.base import PublicModel

SEALED_MODELS: tuple[type[PublicModel], ...] = (
    Patient,
    Encounter,
    Diagnosis,
    Observation,
    ClinicalNote,
)


async def _plaintexts(keyring: Keyring) -> set[str]:
    values: set[str] = set()
    for model in SEALED_MODELS:
        for row in await model.all():
            for name, _ in model.sealed_columns():
                sealed = getattr(row, name)
                if sealed is not None:
                    values.add(keyring.open(sealed))
    return values


# Row timestamps (`2026-11-24 13:22:01.627013+00:00`) are not PHI, but their digits can
# spell a ZIP code: they are cut out of the dump before searching it.
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?")


async def _raw_dump(database_url: str) -> str:
    return TIMESTAMP.sub("", await _dump(database_url))


async def _dump(database_url: str) -> str:
    conn = connections.get("default")
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite://"))
        await conn.execute_script("PRAGMA wal_checkpoint(FULL)")
        files = [path, *path.parent.glob(path.name + "-*")]
        return "".join(f.read_bytes().decode("latin-1") for f in files)
    tables = [
        r["tablename"]
        for r in await conn.execute_query_dict(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
    ]
    # bytea as its raw bytes: its hex text form would "contain" digit strings such as ZIPs.
    cells = []
    for table in tables:
        for row in await conn.execute_query_dict(f'SELECT * FROM "{table}"'):  # noqa: S608
            for value in row.values():
                raw = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                cells.append(raw)
    return "\x00".join(cells)


async def test_demo_database_dump_has_no_plaintext_phi(
    app: Starlette, keyring: Keyring, database_url: str
) -> None:
    logins = await seed_demo(keyring, patients=12)
    assert {login.role.value for login in logins} >= {
        "physician", "nurse", "front_desk", "billing", "patient", "researcher", "auditor", "admin",
    }  # fmt: skip
    plaintexts = await _plaintexts(keyring)
    assert len(plaintexts) > 50
    dump = await _raw_dump(database_url)
    assert len(dump) > 10_000
    ssns = {v for v in plaintexts if v.startswith("9") and v.count("-") == 2}
    assert len(ssns) == 12
    leaked = sorted(v for v in plaintexts if len(v) >= 4 and v in dump)
    assert leaked == []
