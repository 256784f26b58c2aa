"""No PHI without its audit record."""

from __future__ import annotations

import httpx
from tortoise import connections

from models import AuditEvent
from tests.helpers import audited_fields, gql
from tests.world import CLINICAL, OWN, World

QUERY = """
query($id: ID!) {
  patient(id: $id) { givenName familyName ssn birthDate mrn diagnoses { code description } }
}
"""


async def test_failed_audit_write_returns_no_data(client: httpx.AsyncClient, world: World) -> None:
    # A real failure of the audit store: its table is gone.
    await connections.get("default").execute_script(
        "ALTER TABLE audit_event RENAME TO audit_event_gone"
    )
    response = await gql(client, QUERY, {"id": world.patients["own"]}, as_user="doc")
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
    for value in (*OWN.values(), CLINICAL["diagnosis"]["code"], "3456", "Quintanilla"):
        assert value not in response.text


async def test_an_audit_write_failing_midway_stores_nothing_and_the_next_one_works(
    client: httpx.AsyncClient, world: World
) -> None:
    # The records go in first, then the export window: with the window's table gone, the write
    # fails after its records were inserted. They must not stay, nor hold the connection.
    db = connections.get("default")
    await db.execute_script("ALTER TABLE export_window RENAME TO export_window_gone")
    failed = await gql(client, QUERY, {"id": world.patients["own"]}, as_user="doc")
    assert failed.json()["data"] is None
    assert [e["extensions"]["code"] for e in failed.json()["errors"]] == ["AUDIT_UNAVAILABLE"]
    assert not await AuditEvent.filter(request_id=failed.headers["x-request-id"]).exists()

    await db.execute_script("ALTER TABLE export_window_gone RENAME TO export_window")
    served = await gql(client, QUERY, {"id": world.patients["own"]}, as_user="doc")
    assert served.json()["data"]["patient"]["ssn"] == OWN["ssn"]
    assert await audited_fields(served.headers["x-request-id"])


async def test_audit_records_identify_request_actor_and_subject(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await gql(client, QUERY, {"id": world.patients["own"]}, as_user="nurse")
    request_id = response.headers["x-request-id"]
    assert [(field, decision) for _, field, _, decision in await audited_fields(request_id)] == [
        ("Patient.givenName", "ALLOW"),
        ("Patient.familyName", "ALLOW"),
        ("Patient.mrn", "ALLOW"),
        ("Diagnosis.code", "ALLOW"),
        ("Diagnosis.description", "ALLOW"),
        ("Patient.ssn", "MASK"),
        ("Patient.birthDate", "MASK"),
    ]
    # One record per (patient, decision), each listing its fields and their paths.
    records = await AuditEvent.filter(request_id=request_id).order_by("id")
    assert [(r.decision, len(r.accessed())) for r in records] == [("ALLOW", 5), ("MASK", 2)]
    assert records[1].accessed() == [
        ("Patient.ssn", "patient.ssn"),
        ("Patient.birthDate", "patient.birthDate"),
    ]
    record = records[0]
    assert (record.event, record.role, record.purpose) == ("PHI_ACCESS", "nurse", "TREATMENT")
    assert record.patient == world.patients["own"]
    assert record.actor.startswith("usr_")
    assert record.ip == "127.0.0.1"
    # Audit rows name fields and ids, never values.
    dumped = " ".join(str(v) for r in records for v in r.__dict__.values())
    for value in OWN.values():
        assert value not in dumped


async def test_requests_without_phi_write_no_audit_rows(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await gql(client, "{ patients(first: 5) { totalCount } }", as_user="desk")
    assert response.json() == {"data": {"patients": {"totalCount": 3}}}
    assert await AuditEvent.filter(request_id=response.headers["x-request-id"]).count() == 0


SEARCH = "query($mrn: String!) { found: patients(mrn: $mrn) { totalCount edges { node { id } } } }"


async def test_finding_a_patient_by_mrn_is_recorded_as_a_read_of_it(
    client: httpx.AsyncClient, world: World
) -> None:
    # Only ids are selected, but the search told the caller whose MRN this is.
    found = await gql(client, SEARCH, {"mrn": OWN["mrn"]}, as_user="doc")
    assert found.json()["data"]["found"]["totalCount"] == 1
    assert await audited_fields(found.headers["x-request-id"]) == [
        (world.patients["own"], "Patient.mrn", "found.mrn", "ALLOW")
    ]
    # An MRN that finds nobody tells nothing about anyone: no record.
    missed = await gql(client, SEARCH, {"mrn": "MRN-999999"}, as_user="doc")
    assert missed.json()["data"]["found"]["totalCount"] == 0
    assert await audited_fields(missed.headers["x-request-id"]) == []
