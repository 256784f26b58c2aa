"""The report tally through HTTP, on both databases (issue #21): an organization-wide aggregate
read from the tally is the one counted from the patients, for every grouping, right after
writes (counted from their values until the tally takes them in) and after the tally took them
in; it stores no plaintext; it rebuilds for a new year; and its request leaves one record for
the population instead of one per patient."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import timedelta
from itertools import combinations
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import connections
from tortoise.expressions import F

from api.keys import key_provider
from api.settings import Settings
from audit.sealer import seal_pending
from crypto.keyring import Keyring
from crypto.sealed import Sealed, binding_for
from models import AuditEvent, Organization, Patient
from models.keystore import load_audit_keys
from models.tally import ReportCell, ReportContribution, ReportTally
from ops.tally import bring_up_to_date, rebuild
from permissions import tally
from permissions.deidentify import report_date
from permissions.tally import STATE, written_since
from tests.helpers import gql
from tests.synthetic import organization_with_researcher, population, years_before
from tests.world import World

AGGREGATE = """
query($by: [ReportDimension!]!) {
  report { aggregate(by: $by) { cells { diagnosis ageBand zip3 year count } suppressed total } }
}
"""
DIMENSIONS = ("DIAGNOSIS", "AGE_BAND", "ZIP3", "YEAR")
GROUPINGS = [by for n in range(1, len(DIMENSIONS) + 1) for by in combinations(DIMENSIONS, n)]
REGISTER = "mutation($input: RegisterPatientInput!) { registerPatient(input: $input) { id } }"
UPDATE = """
mutation($id: ID!, $version: Int!, $input: PatientChanges!) {
  updatePatient(id: $id, version: $version, input: $input, reason: "moved") { id version }
}
"""
ADD_DIAGNOSIS = """
mutation($patient: ID!, $input: NewDiagnosis!) { addDiagnosis(patient: $patient, input: $input) {
  id version } }
"""
AMEND = """
mutation($id: ID!, $version: Int!, $input: DiagnosisChanges!) {
  amendDiagnosis(id: $id, version: $version, input: $input, reason: "wrong chart") { id }
}
"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Each test seals and drains when it means to."""
    return replace(settings, audit_seal_interval=timedelta(0))


async def hospital(keyring: Keyring) -> Organization:
    """The world's hospital with enough patients that cells show (11 or more)."""
    org = await Organization.get(name="Test Hospital")
    today = report_date()
    await population(keyring, org, [
        (14, "62704", years_before(today, 35), [("E11.9", "2024-05-01"), ("I10", "2024-06-01")]),
        (12, "82501", years_before(today, 46), [("E11.9", "2023-02-01")]),
        (11, "82599", years_before(today, 47), []),
        (2, "05901", years_before(today, 95), [("I10", "1930-07-01")]),
    ])  # fmt: skip
    return org


async def tables(client: httpx.AsyncClient) -> dict[tuple[str, ...], Any]:
    found = {}
    for by in GROUPINGS:
        body = (await gql(client, AGGREGATE, {"by": list(by)}, as_user="rae")).json()
        assert "errors" not in body, body
        found[by] = body["data"]["report"]["aggregate"]
    return found


async def from_patients(client: httpx.AsyncClient) -> dict[tuple[str, ...], Any]:
    """The same tables counted from the patients: the tally made to count another year."""
    await ReportTally.filter(id=STATE).update(year=F("year") - 1)
    try:
        return await tables(client)
    finally:
        await ReportTally.filter(id=STATE).update(year=F("year") + 1)


async def population_records() -> int:
    return await AuditEvent.filter(event="PHI_ACCESS", patient=None).count()


async def test_tally_counts_what_the_patients_count(
    client: httpx.AsyncClient, app: Starlette, world: World, keyring: Keyring
) -> None:
    await hospital(keyring)
    counted = await tables(client)
    assert await population_records() == 0
    patient_records = await AuditEvent.filter(event="PHI_ACCESS").count()
    assert patient_records >= len(GROUPINGS) * 11  # one per patient counted, per request
    built = await rebuild(keyring, report_date())
    assert built is not None
    assert built.patients == 3 + 39
    tallied = await tables(client)
    assert tallied == counted
    shown = [cell for table in counted.values() for cell in table["cells"]]
    assert len(shown) >= 5
    assert any(table["suppressed"] for table in counted.values())
    # From the tally, a request opens no patient's values: one record for the population.
    assert await AuditEvent.filter(event="PHI_ACCESS").count() == patient_records + len(GROUPINGS)
    record = await AuditEvent.filter(event="PHI_ACCESS", patient=None).order_by("-id").first()
    assert record is not None
    assert record.decision == "DEIDENTIFY"
    assert sorted(field for field, _ in record.accessed()) == [
        "Diagnosis.code", "Diagnosis.recordedDate", "Patient.birthDate", "Patient.zip"
    ]  # fmt: skip


async def test_writes_count_at_once_and_after_the_tally_takes_them_in(
    client: httpx.AsyncClient,
    app: Starlette,
    world: World,
    keyring: Keyring,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org = await hospital(keyring)
    await rebuild(keyring, report_date())
    before = await tables(client)
    born = years_before(report_date(), 35)
    for n in range(11):
        values = {"mrn": f"TALLY-{n}", "givenName": "Tal", "familyName": "Ly", "birthDate": born,
                  "zip": "30301"}  # fmt: skip
        body = (await gql(client, REGISTER, {"input": values}, as_user="desk")).json()
        assert "errors" not in body, body
    moved = await Patient.filter(organization=org).order_by("id").offset(3).limit(4)
    for patient in moved:
        variables = {"id": patient.public_id, "version": patient.version, "input": {"zip": "30302"}}
        body = (await gql(client, UPDATE, variables, as_user="desk")).json()
        assert "errors" not in body, body
    own = world.patients["own"]
    dx = {"code": "J45.909", "description": "Asthma", "recordedDate": "2022-03-01"}
    body = (await gql(client, ADD_DIAGNOSIS, {"patient": own, "input": dx}, as_user="doc")).json()
    assert "errors" not in body, body
    body = (
        await gql(
            client,
            AMEND,
            {"id": world.children["diagnosis"], "version": 1, "input": {"enteredInError": True}},
            as_user="doc",
        )
    ).json()
    assert "errors" not in body, body

    # Not taken in yet: the patients written since are counted from their values now.
    state = await ReportTally.get(id=STATE)
    assert len((await written_since(state.through)).patients) == 11 + 4 + 1
    now = await tables(client)
    assert now != before
    assert now == await from_patients(client)
    # Further behind than it counts patients for itself, an aggregate counts them all.
    monkeypatch.setattr(tally, "BEHIND", 5)
    records = await population_records()
    assert await tables(client) == now
    assert await population_records() == records
    monkeypatch.undo()

    # Two workers draining at once count each write once.
    await seal_pending(await load_audit_keys(key_provider(settings)), timedelta(0))
    await asyncio.gather(*(bring_up_to_date(keyring, report_date()) for _ in range(2)))
    after = await ReportTally.get(id=STATE)
    assert after.generation > state.generation
    assert (await written_since(after.through)).patients == []
    assert await tables(client) == now

    # Taking the same records in again, or counting everyone again, changes no cell.
    cells = set(await ReportCell.all().values_list("public_id", "patients"))
    await ReportTally.filter(id=STATE).update(through=state.through)
    await bring_up_to_date(keyring, report_date())
    assert set(await ReportCell.all().values_list("public_id", "patients")) == cells
    await rebuild(keyring, report_date())
    rebuilt = set(await ReportCell.all().values_list("public_id", "patients"))
    assert {c for c in rebuilt if c[1]} == {c for c in cells if c[1]}


async def test_tally_stores_no_plaintext(
    client: httpx.AsyncClient, app: Starlette, world: World, keyring: Keyring
) -> None:
    """Keys and facts are ciphertext of ours; everything else is an id, a grouping or a count."""
    await hospital(keyring)
    await rebuild(keyring, report_date())
    db = connections.get("default")
    sealed = {"report_cell": "key", "report_contribution": "facts"}
    plain = ("E11.9", "I10", "627", "825", "30-39", "90+", "2024", "unknown")
    opened = []
    for table, column in sealed.items():
        rows = await db.execute_query_dict(f"SELECT * FROM {table}")  # noqa: S608
        assert rows
        for row in rows:
            blob = bytes(row.pop(column))
            assert Keyring.version_of(blob) == keyring.primary
            # Values this long never turn up in random bytes by chance (shorter ones might).
            assert not any(value.encode() in blob for value in plain if len(value) >= 5)
            binding = binding_for(f"{table}.{column}", row["public_id"])
            opened.append(keyring.open(Sealed(blob, binding)))
            assert re.fullmatch(r"(cell|pat)_[A-Za-z0-9_-]{22}", row.pop("public_id"))
            assert all(isinstance(value, int) for value in row.values()), row
    assert await ReportContribution.all().count() == 3 + 39
    assert all(any(value in text for text in opened) for value in plain)


async def test_each_organization_counts_its_own_patients(
    client: httpx.AsyncClient, app: Starlette, world: World, keyring: Keyring
) -> None:
    await hospital(keyring)
    other = await organization_with_researcher("Elsewhere", "elsewhere.rae")
    today = report_date()
    await population(keyring, other, [(12, "10001", years_before(today, 60), [])])
    await rebuild(keyring, report_date())
    for user, total in (("rae", 3 + 39), ("elsewhere.rae", 12)):
        body = (await gql(client, AGGREGATE, {"by": ["ZIP3"]}, as_user=user)).json()
        assert body["data"]["report"]["aggregate"]["total"] == total
    body = (await gql(client, AGGREGATE, {"by": ["ZIP3"]}, as_user="elsewhere.rae")).json()
    assert body["data"]["report"]["aggregate"]["cells"] == [
        {"diagnosis": None, "ageBand": None, "zip3": "100", "year": None, "count": 12}
    ]


async def test_a_new_year_counts_from_the_patients_until_rebuilt(
    client: httpx.AsyncClient, app: Starlette, world: World, keyring: Keyring
) -> None:
    await hospital(keyring)
    await rebuild(keyring, report_date())
    await ReportTally.filter(id=STATE).update(year=F("year") - 1)
    records = await population_records()
    body = (await gql(client, AGGREGATE, {"by": ["AGE_BAND"]}, as_user="rae")).json()
    assert body["data"]["report"]["aggregate"]["total"] == 3 + 39
    assert await population_records() == records  # counted from the patients
    await bring_up_to_date(keyring, report_date())
    assert (await ReportTally.get(id=STATE)).year == report_date().year
    body = (await gql(client, AGGREGATE, {"by": ["AGE_BAND"]}, as_user="rae")).json()
    assert body["data"]["report"]["aggregate"]["total"] == 3 + 39
    assert await population_records() == records + 1
