"""`phigate backup`: encrypted archives that verify, restore, and refuse tampering."""

from __future__ import annotations

import base64
import dataclasses
import secrets
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from api.app import create_app
from api.settings import Settings
from crypto.provider import LocalKeyProvider, decode_master_key
from models import AuditEvent, Patient
from ops.archive import ArchiveReader, ArchiveWriter
from tests.conftest import https_client, running
from tests.helpers import TestAuthenticator, gql
from tests.ops import phigate
from tests.test_at_rest import TIMESTAMP
from tests.world import CHILD, CLINICAL, OTHER, OWN, World, build_world

QUERY = """
query($id: ID!) {
  patient(id: $id) { givenName familyName ssn mrn zip diagnoses { code description } }
}
"""
PLAINTEXTS = [
    value
    for values in (OWN, OTHER, CHILD, *CLINICAL.values())
    for value in values.values()
    if len(value) >= 4
]


@pytest.fixture
async def fresh_url(
    database_url: str, pg_admin_url: str | None, tmp_path: Path
) -> AsyncIterator[str]:
    """A second, empty (not even migrated) database of the same kind to restore into."""
    if database_url.startswith("sqlite"):
        yield f"sqlite://{tmp_path / 'restored' / 'phigate.sqlite3'}"
        return
    assert pg_admin_url is not None
    name = f"r_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield database_url.rsplit("/", 1)[0] + "/" + name
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def world_backup(settings: Settings, tmp_path: Path) -> tuple[World, Path]:
    """A world, and an archive of it taken while the app is running."""
    archive = tmp_path / "world.phigate-backup"
    async with running(create_app(settings, authenticate=TestAuthenticator())) as app:
        world = await build_world(app.state.keyring)
        created = await phigate(settings, "backup", "create", str(archive))
        assert created.returncode == 0, created.stderr
        assert "tables" in created.stdout
        assert await AuditEvent.filter(event="BACKUP_CREATED").count() == 1
    return world, archive


async def _serves_world(settings: Settings, world: World) -> None:
    async with (
        running(create_app(settings, authenticate=TestAuthenticator())) as app,
        https_client(app) as http,
    ):
        response = await gql(http, QUERY, {"id": world.patients["own"]}, as_user="doc")
        patient = response.json()["data"]["patient"]
        assert "errors" not in response.json()
        assert (patient["givenName"], patient["ssn"], patient["zip"]) == (
            OWN["given_name"], OWN["ssn"], OWN["zip"],
        )  # fmt: skip
        assert patient["diagnoses"][0]["code"] == CLINICAL["diagnosis"]["code"]
        restored = await AuditEvent.filter(event="BACKUP_RESTORED").values_list("detail", flat=True)
        assert len(restored) == 1


async def test_backup_verifies_and_restores_into_a_fresh_database(
    world_backup: tuple[World, Path], settings: Settings, fresh_url: str
) -> None:
    world, archive = world_backup
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert _matching(archive.parent, "*.partial") == []
    raw = archive.read_bytes().decode("latin-1")
    assert [value for value in PLAINTEXTS if value in raw] == []

    verified = await phigate(settings, "backup", "verify", str(archive))
    assert verified.returncode == 0, verified.stderr
    assert "verified, every table matches its manifest" in verified.stdout

    target = dataclasses.replace(settings, database_url=fresh_url)
    restored = await phigate(target, "backup", "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert (await phigate(target, "migrate")).returncode == 0
    await _serves_world(target, world)
    # A database holding data is replaced only on request.
    again = await phigate(target, "backup", "restore", str(archive))
    assert again.returncode == 1
    assert "already holds data; restore replaces it only with --force" in again.stderr
    forced = await phigate(target, "backup", "restore", "--force", str(archive))
    assert forced.returncode == 0, forced.stderr

    async with running(create_app(settings, authenticate=TestAuthenticator())):
        events = await AuditEvent.filter(event__startswith="BACKUP_").order_by("id")
        assert [e.event for e in events] == ["BACKUP_CREATED", "BACKUP_VERIFIED"]
        assert {(e.role, e.purpose) for e in events} == {("admin", "OPERATIONS")}
        assert events[1].detail is not None
        assert events[1].detail.endswith("rows")


async def test_decrypted_sqlite_dump_holds_ciphertext_only(
    world_backup: tuple[World, Path], settings: Settings
) -> None:
    _, archive = world_backup
    provider = LocalKeyProvider(decode_master_key(settings.master_key or ""))
    with archive.open("rb") as source:
        reader = ArchiveReader(source, provider)
        dump = b"".join(reader.chunks())
    assert reader.manifest["tables"]["patient"]["rows"] == 3
    if reader.header.database == "sqlite":
        text = TIMESTAMP.sub("", dump.decode("latin-1"))
        assert "CREATE TABLE" in text
        # Digit-only values (ZIP codes) are left out: random ids can spell them.
        assert [v for v in PLAINTEXTS if not v.isdigit() and v in text] == []


async def test_a_dump_that_does_not_match_its_manifest_fails_verification(
    world_backup: tuple[World, Path], settings: Settings, tmp_path: Path
) -> None:
    """Validly sealed, but the restored rows differ from the manifest (as if the dump lost
    rows): verification restores it and names the table."""
    _, archive = world_backup
    provider = LocalKeyProvider(decode_master_key(settings.master_key or ""))
    doctored = tmp_path / "doctored.phigate-backup"
    with archive.open("rb") as source, doctored.open("wb") as out:
        reader = ArchiveReader(source, provider)
        fields = {k: v for k, v in reader.header.fields.items() if k != "wrapped_key"}
        writer = ArchiveWriter(out, provider, fields)
        for chunk in reader.chunks():
            writer.write(chunk)
        tables = reader.manifest["tables"]
        tables["patient"]["rows"] += 1
        writer.finish({"tables": tables})
    result = await phigate(settings, "backup", "verify", str(doctored))
    assert result.returncode == 1
    assert "restored rows do not match the manifest in: patient" in result.stderr


def _matching(folder: Path, pattern: str) -> list[Path]:
    return list(folder.glob(pattern))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


async def test_tampered_or_truncated_archives_fail_clearly(
    world_backup: tuple[World, Path], settings: Settings, tmp_path: Path
) -> None:
    world, archive = world_backup
    data = archive.read_bytes()
    header_end = 20 + int.from_bytes(data[16:20], "big")
    cases = {
        "chunk": (_flip(data, header_end + len(data[header_end:]) // 2), "damaged or altered"),
        "header": (_flip(data, header_end - 3), "cannot be unwrapped"),
        "truncated": (data[:-40], "truncated"),
        "appended": (data + data[header_end:][:300], "damaged"),
        "magic": (_flip(data, 2), "not a phigate backup archive"),
    }
    for name, (content, message) in cases.items():
        bad = tmp_path / f"{name}.phigate-backup"
        bad.write_bytes(content)
        result = await phigate(settings, "backup", "verify", str(bad))
        assert result.returncode == 1, name
        assert message in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr

    # A damaged archive is never restored, not even with --force.
    async with running(create_app(settings, authenticate=TestAuthenticator())):
        # A change after the backup: a restore would bring the patient back.
        await Patient.filter(public_id=world.patients["other"]).delete()
    result = await phigate(
        settings, "backup", "restore", "--force", str(tmp_path / "chunk.phigate-backup")
    )
    assert result.returncode == 1
    async with running(create_app(settings, authenticate=TestAuthenticator())):
        assert await Patient.all().count() == 2


async def test_archive_needs_the_master_key(
    world_backup: tuple[World, Path], settings: Settings, tmp_path: Path
) -> None:
    _, archive = world_backup
    wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    result = await phigate(settings, "backup", "verify", str(archive), master_key=wrong)
    assert result.returncode == 1
    assert "cannot be unwrapped: wrong master key" in result.stderr
    created = await phigate(
        settings, "backup", "create", str(tmp_path / "other.bak"), master_key=wrong
    )
    assert created.returncode == 1
    assert "data keys cannot be unwrapped (wrong master key?)" in created.stderr
    assert _matching(tmp_path, "other.bak*") == []
    refused = await phigate(settings, "backup", "create", str(archive))
    assert refused.returncode == 1
    assert "already exists" in refused.stderr
