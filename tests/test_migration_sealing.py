"""Migration 0013 seals the observation units and encounter kinds stored in plaintext before
it (#18 item 7): with the master key, every value is sealed under the current data key with
its row and column binding; without it, the migration fails and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate as run_migrations

from api import db
from crypto.provider import LocalKeyProvider, decode_master_key
from crypto.sealed import Sealed
from models import CareTeamAssignment, Encounter, Observation, Organization, Patient, User
from models.keystore import load_keyring
from permissions.roles import Role
from tests.schema_checks import missing_indexes

IDENTITY = ("mrn", "given_name", "family_name", "birth_date")


async def _connect(database_url: str) -> None:
    # Tortoise caches INSERT statements per connection name, not per dialect (conftest.py).
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=db.tortoise_config(database_url))


async def _insert(table: str, values: dict[str, Any]) -> None:
    connection = connections.get("default")
    postgres = connection.capabilities.dialect == "postgres"
    marks = [f"${i}" if postgres else "?" for i in range(1, len(values) + 1)]
    await connection.execute_query(
        f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join(marks)})",  # noqa: S608
        list(values.values()),
    )


async def _at(database_url: str, migration: str, provider: LocalKeyProvider) -> Patient:
    """Migrated up to `migration` and connected, with an organization and a patient (not
    saved: the model may have columns `migration` does not)."""
    await run_migrations(
        config=db.tortoise_config(database_url, migrating=True), target=f"phigate.{migration}"
    )
    await _connect(database_url)
    keyring = await load_keyring(provider)
    org = await Organization.create(name=f"Before {migration}")
    patient = Patient(organization=org)
    patient.seal_identity(
        keyring, mrn="MRN-013013", given_name="Ines", family_name="Old", birth_date="1970-01-01"
    )
    return patient


async def _seed_as_0012(database_url: str, provider: LocalKeyProvider) -> None:
    """A database at 0012 holding one plaintext unit and one plaintext kind."""
    patient = await _at(database_url, "0012_administration", provider)
    org = patient.organization
    try:
        # By hand: the model has columns that later migrations add.
        sealed = {c: getattr(patient, c).blob for c in IDENTITY}
        await _insert(
            "patient",
            {"public_id": patient.public_id, "organization_id": org.id, "version": 1,
             "created_at": datetime.now(UTC), "mrn_index": patient.mrn_index, **sealed},
        )  # fmt: skip
        patient_id = (await Patient.get(public_id=patient.public_id).values_list("id"))[0]
        blob = sealed["mrn"]  # any sealed bytes: these tests open only unit and kind
        await _insert(
            "encounter",
            {"public_id": "enc_" + "e" * 22, "patient_id": patient_id, "kind": "EMERGENCY",
             "start_date": blob},
        )  # fmt: skip
        await _insert(
            "observation",
            {"public_id": "obs_" + "o" * 22, "patient_id": patient_id, "unit": "mg/dL",
             "code": blob, "value": blob, "effective_date": blob},
        )  # fmt: skip
    finally:
        await Tortoise.close_connections()


async def test_migration_0013_seals_existing_units_and_kinds(
    database_url: str, master_key: str
) -> None:
    provider = LocalKeyProvider(decode_master_key(master_key))
    await _seed_as_0012(database_url, provider)
    with pytest.raises(LookupError):
        await db.migrate(database_url)
    await db.migrate(database_url, provider=provider)
    await _connect(database_url)
    try:
        keyring = await load_keyring(provider)
        encounter = await Encounter.get(public_id="enc_" + "e" * 22)
        observation = await Observation.get(public_id="obs_" + "o" * 22)
        assert isinstance(encounter.kind, Sealed)
        assert isinstance(observation.unit, Sealed)
        assert keyring.open(encounter.kind) == "EMERGENCY"
        assert keyring.open(observation.unit) == "mg/dL"
        connection = connections.get("default")
        stored = repr(await connection.execute_query_dict("SELECT * FROM observation"))
        stored += repr(await connection.execute_query_dict("SELECT * FROM encounter"))
        assert "mg/dL" not in stored
        assert "EMERGENCY" not in stored
        assert "plaintext" not in stored
    finally:
        await Tortoise.close_connections()


async def test_taking_migrations_back_and_forth_keeps_every_record(
    database_url: str, master_key: str
) -> None:
    """Columns added since 0019 are dropped in place going back: on SQLite a table rebuild
    would cascade to the patient's records and lose the unique MRN index."""
    provider = LocalKeyProvider(decode_master_key(master_key))
    await _seed_as_0012(database_url, provider)
    await db.migrate(database_url, provider=provider)
    await run_migrations(
        config=db.tortoise_config(database_url, migrating=True),
        target="phigate.0019_audit_partitions",
    )
    await db.migrate(database_url, provider=provider)
    await _connect(database_url)
    try:
        connection = connections.get("default")
        counts = [
            (await connection.execute_query_dict(f"SELECT count(*) AS n FROM {table}"))[0]["n"]  # noqa: S608
            for table in ("patient", "encounter", "observation")
        ]
        assert counts == [1, 1, 1]
        assert await missing_indexes(connection) == []
        [row] = await connection.execute_query_dict("SELECT * FROM patient")
        again = {k: v for k, v in row.items() if k not in {"id", "public_id"}}
        with pytest.raises(IntegrityError):
            await _insert("patient", {**again, "public_id": "pat_" + "p" * 22})
    finally:
        await Tortoise.close_connections()


async def test_migration_0024_gives_each_assignment_its_patients_public_id(
    database_url: str, master_key: str
) -> None:
    provider = LocalKeyProvider(decode_master_key(master_key))
    patient = await _at(database_url, "0023_report_tally", provider)
    try:
        await patient.save()
        doc = await User.create(
            username="doc.0024", role=Role.PHYSICIAN, organization=patient.organization,
            password_hash="-",
        )  # fmt: skip
        await _insert(
            "care_team_assignment",
            {"user_id": doc.id, "patient_id": patient.id, "started_at": datetime.now(UTC)},
        )
    finally:
        await Tortoise.close_connections()
    await db.migrate(database_url, provider=provider)
    await _connect(database_url)
    try:
        filled = await CareTeamAssignment.all().values_list("patient_public_id", flat=True)
        assert filled == [patient.public_id]
    finally:
        await Tortoise.close_connections()
