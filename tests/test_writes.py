"""The write path through HTTP, on both databases: registering and changing patients, all or
nothing, validated, versioned, kept in history, idempotent, audited with the write."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from tortoise import connections

from models import AuditEvent, IdempotencyKey, Patient, PatientRevision
from tests.helpers import AS_USER, gql, write_records
from tests.world import OWN, World

REGISTER = """
mutation($input: RegisterPatientInput!) {
  registerPatient(input: $input) { id version mrn givenName familyName birthDate ssn phone }
}
"""
UPDATE = """
mutation($id: ID!, $version: Int!, $input: PatientChanges!, $reason: String) {
  updatePatient(id: $id, version: $version, input: $input, reason: $reason) {
    id version phone email ssn givenName
  }
}
"""
HISTORY = """
query($id: ID!) {
  patient(id: $id) {
    version
    history { version action changed role reason ssn phone givenName birthDate gender }
  }
}
"""
NEW = {
    "mrn": "MRN-555001",
    "givenName": "Theodora",
    "familyName": "Wexley-Amani",
    "birthDate": "1991-04-12",
    "ssn": "321-54-9876",
    "phone": "312-555-0188",
    "email": "theo.wexley@example.net",
    "street": "88 Juniper Court",
    "city": "Oak Harbor",
    "zip": "98277",
}


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def register(client: httpx.AsyncClient, values: dict[str, str], **kw: Any) -> httpx.Response:
    return await gql(client, REGISTER, {"input": values}, **kw)


async def update(
    client: httpx.AsyncClient,
    patient_id: str,
    version: int,
    changes: dict[str, Any],
    as_user: str,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> httpx.Response:
    body = {
        "query": UPDATE,
        "variables": {"id": patient_id, "version": version, "input": changes, "reason": reason},
    }
    return await client.post("/graphql", json=body, headers={AS_USER: as_user, **(headers or {})})


async def test_front_desk_registers_a_patient_sealed_indexed_and_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await register(client, NEW, as_user="desk")
    body = response.json()
    assert "errors" not in body, body
    created = body["data"]["registerPatient"]
    assert created["mrn"] == NEW["mrn"]
    assert created["ssn"] == "***-**-9876"
    assert created["version"] == 1
    request_id = response.headers["x-request-id"]
    [(event, decision, fields)] = await write_records(request_id)
    assert (event, decision) == ("CREATE", "ALLOW")
    assert [f for f, _ in fields] == [f"Patient.{k}" for k in NEW]
    assert ("Patient.ssn", "registerPatient.input.ssn") in fields
    # Found by its MRN through the blind index.
    found = await gql(client, '{ patients(mrn: "mrn-555001") { totalCount } }', as_user="desk")
    assert found.json()["data"]["patients"]["totalCount"] == 1


async def test_no_submitted_value_is_stored_in_plaintext(
    client: httpx.AsyncClient, world: World
) -> None:
    created = (await register(client, NEW, as_user="desk")).json()["data"]["registerPatient"]
    await update(
        client,
        created["id"],
        1,
        {"phone": "206-555-0143", "city": "Port Talbotine"},
        "desk",
        reason="Patient moved to Port Talbotine",
    )
    connection = connections.get("default")
    dumped = []
    for table in ("patient", "patient_revision", "audit_event", "idempotency_key"):
        rows = await connection.execute_query_dict(f"SELECT * FROM {table}")  # noqa: S608
        dumped.append(repr(rows))
    text = "\n".join(dumped)
    for value in [*NEW.values(), "206-555-0143", "Port Talbotine", "5550143", "321549876"]:
        assert value not in text, value
        assert value.encode() not in text.encode()


async def test_patient_updates_own_contact_and_history_keeps_the_old_value(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    response = await update(client, own, 1, {"phone": "217-555-0111"}, "alice", reason="New phone")
    assert "errors" not in response.json(), response.json()
    assert response.json()["data"]["updatePatient"]["phone"] == "217-555-0111"
    assert response.json()["data"]["updatePatient"]["version"] == 2
    [(event, decision, fields)] = await write_records(response.headers["x-request-id"])
    assert (event, decision, fields) == (
        "UPDATE",
        "ALLOW",
        [("Patient.phone", "updatePatient.input.phone")],
    )
    history = (await gql(client, HISTORY, {"id": own}, as_user="doc")).json()
    [revision] = history["data"]["patient"]["history"]
    assert revision["version"] == 1
    assert revision["changed"] == ["phone"]
    assert revision["phone"] == OWN["phone"]
    assert revision["reason"] == "New phone"
    assert revision["ssn"] is None
    assert revision["role"] == "patient"


async def test_mass_assignment_is_refused_whole_and_audited(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    response = await update(
        client, own, 1, {"phone": "217-555-0111", "ssn": "111-22-3333"}, "alice"
    )
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["field"] == "input.ssn"
    assert "111-22-3333" not in response.text
    assert "0111" not in response.text
    row = await Patient.get(public_id=own)
    assert row.version == 1
    assert not await PatientRevision.exists()
    [(event, decision, fields)] = await write_records(response.headers["x-request-id"])
    assert (event, decision, fields) == (
        "UPDATE",
        "DENY",
        [("Patient.ssn", "updatePatient.input.ssn")],
    )


async def test_server_owned_fields_are_not_in_any_input(
    client: httpx.AsyncClient, world: World
) -> None:
    for field, value in [
        ("id", "pat_x"),
        ("version", 7),
        ("ssnIndex", "AA=="),
        ("mrnIndex", "AA=="),
        ("organization", "org_x"),
        ("publicId", "pat_x"),
        ("createdAt", "2020-01-01"),
    ]:
        response = await update(
            client, world.patients["own"], 1, {"phone": "217-555-0111", field: value}, "desk"
        )
        assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"] or response.status_code == 400
        assert (await Patient.get(public_id=world.patients["own"])).version == 1


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("birthDate", "2021-02-30", "must be a real date, YYYY-MM-DD"),
        ("birthDate", "2999-01-01", "must not be in the future"),
        ("gender", "M", "must be one of male, female, other, unknown"),
        ("ssn", "000-12-3456", "must be a Social Security number, NNN-NN-NNNN"),
        ("zip", "9827", "must be a ZIP code, NNNNN or NNNNN-NNNN"),
        ("phone", "12345", "must be a phone number: 10 digits (NANP) or +E.164"),
        ("email", "theo@", "must be an email address"),
        ("givenName", "x" * 101, "must be at most 100 characters"),
        ("mrn", "M!", "must be a medical record number: 4 to 64 letters, digits or dashes"),
    ],
)
async def test_a_bad_value_names_its_path_and_never_echoes_it(
    client: httpx.AsyncClient, world: World, field: str, value: str, reason: str
) -> None:
    response = await register(client, {**NEW, field: value}, as_user="desk")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == f"input.{field}: {reason}"
    assert error["extensions"]["field"] == f"input.{field}"
    assert value not in json.dumps(error)
    assert await Patient.all().count() == 3
    assert not await AuditEvent.filter(event="CREATE").exists()


async def test_mrn_is_unique_per_organization(client: httpx.AsyncClient, world: World) -> None:
    response = await register(client, {**NEW, "mrn": OWN["mrn"].lower()}, as_user="desk")
    assert codes(response) == ["BAD_USER_INPUT"]
    assert response.json()["errors"][0]["extensions"]["field"] == "input.mrn"
    assert await Patient.all().count() == 3


async def test_a_stale_version_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    first = await update(client, own, 1, {"email": "a.q@example.org"}, "desk")
    assert first.json()["data"]["updatePatient"]["version"] == 2
    stale = await update(client, own, 1, {"email": "other@example.org"}, "desk")
    assert codes(stale) == ["CONFLICT"]
    assert await PatientRevision.all().count() == 1
    assert await write_records(stale.headers["x-request-id"]) == []


async def test_two_concurrent_updates_exactly_one_wins(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    responses = await asyncio.gather(
        update(client, own, 1, {"phone": "217-555-0101"}, "desk"),
        update(client, own, 1, {"phone": "217-555-0202"}, "alice"),
    )
    outcomes = sorted(tuple(codes(r)) for r in responses)
    assert outcomes == [(), ("CONFLICT",)]
    row = await Patient.get(public_id=own)
    assert row.version == 2
    assert await PatientRevision.all().count() == 1
    assert await AuditEvent.filter(event="UPDATE").count() == 1


async def test_an_idempotent_retry_returns_the_first_result(
    client: httpx.AsyncClient, world: World
) -> None:
    key = {"Idempotency-Key": "retry-7f3a"}
    own = world.patients["own"]
    first = await update(client, own, 1, {"phone": "217-555-0133"}, "alice", key)
    again = await update(client, own, 1, {"phone": "217-555-0133"}, "alice", key)
    assert first.json()["data"] == again.json()["data"]
    assert again.json()["data"]["updatePatient"]["version"] == 2
    assert await AuditEvent.filter(event="UPDATE").count() == 1
    assert await IdempotencyKey.all().count() == 1
    # Per principal: the same key from someone else is a new request (here: stale).
    other = await update(client, own, 1, {"phone": "217-555-0144"}, "desk", key)
    assert codes(other) == ["CONFLICT"]
    # Another request under the same key is refused, not answered with the wrong record.
    reused = await update(
        client, world.patients["child"], 1, {"phone": "217-555-0155"}, "alice", key
    )
    assert codes(reused) == ["BAD_USER_INPUT"]


async def test_a_key_reused_for_another_patients_registration_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    """The same mutation with other arguments is another request: answering it with the first
    registration would hand a front desk one patient's record as another's."""
    key = {AS_USER: "desk", "Idempotency-Key": "desk-tablet-1"}
    body = {"query": REGISTER, "variables": {"input": NEW}}
    first = await client.post("/graphql", json=body, headers=key)
    again = await client.post("/graphql", json=body, headers=key)
    assert again.json() == first.json()
    nextone = {**NEW, "mrn": "MRN-555002", "givenName": "Ines", "ssn": "321-54-9877"}
    body = {"query": REGISTER, "variables": {"input": nextone}}
    reused = await client.post("/graphql", json=body, headers=key)
    assert codes(reused) == ["BAD_USER_INPUT"]
    assert "another request" in reused.json()["errors"][0]["message"]
    assert "Ines" not in reused.text
    assert NEW["givenName"] not in reused.text
    assert await Patient.all().count() == len(world.patients) + 1
    assert await AuditEvent.filter(event="CREATE").count() == 1
    # Beside the key: a digest of the arguments (HMAC-SHA256), not the arguments.
    [kept] = await IdempotencyKey.all()
    assert kept.fingerprint is not None
    assert len(kept.fingerprint) == 32


async def test_a_patient_outside_the_callers_rows_is_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await update(client, world.patients["other"], 1, {"phone": "217-555-0111"}, "alice")
    assert codes(response) == ["NOT_FOUND"]
    assert await write_records(response.headers["x-request-id"]) == []


async def test_a_proxy_writes_only_within_its_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    child = world.patients["child"]
    allowed = await update(client, child, 1, {"email": "cosima.new@example.org"}, "parent")
    assert allowed.json()["data"]["updatePatient"]["version"] == 2
    # The grant is DEMOGRAPHICS: the SSN in the answer is read-denied, as in any read.
    assert [e["path"] for e in allowed.json()["errors"]] == [["updatePatient", "ssn"]]
    refused = await update(client, child, 2, {"ssn": "321-54-9876"}, "parent")
    assert codes(refused) == ["FORBIDDEN"]


async def test_history_is_decided_per_role(client: httpx.AsyncClient, world: World) -> None:
    own = world.patients["own"]
    changed = {
        "ssn": "321-54-9876", "givenName": "Alice", "birthDate": "1980-05-18", "gender": "other",
    }  # fmt: skip
    assert "errors" not in (await update(client, own, 1, changed, "desk")).json()
    nurse = (await gql(client, HISTORY, {"id": own}, as_user="nurse")).json()
    [revision] = nurse["data"]["patient"]["history"]
    assert revision["ssn"] == "***-**-3456"
    assert revision["birthDate"] == "1980"
    assert revision["gender"] == OWN["gender"]
    assert revision["givenName"] == OWN["given_name"]
    rae = await gql(client, HISTORY, {"id": own}, as_user="rae")
    assert codes(rae) == ["NOT_FOUND"]


async def test_write_and_audit_are_one_transaction(client: httpx.AsyncClient, world: World) -> None:
    own = world.patients["own"]
    db = connections.get("default")
    # The patient row changes, then the revision goes in with the write's record (one
    # statement on PostgreSQL, the record just before it on SQLite): with the revision table
    # gone, the write fails after the row changed and with the record inserted or on its way.
    await db.execute_script("ALTER TABLE patient_revision RENAME TO patient_revision_gone")
    failed = await update(client, own, 1, {"phone": "217-555-0166"}, "desk")
    assert failed.json()["data"] is None
    assert not await AuditEvent.filter(event="UPDATE").exists()
    assert (await Patient.get(public_id=own)).version == 1
    await db.execute_script("ALTER TABLE patient_revision_gone RENAME TO patient_revision")
    # The audit store down: nothing is written either.
    await db.execute_script("ALTER TABLE audit_event RENAME TO audit_event_gone")
    refused = await update(client, own, 1, {"phone": "217-555-0166"}, "desk")
    assert "AUDIT_UNAVAILABLE" in codes(refused)
    assert "0166" not in refused.text
    await db.execute_script("ALTER TABLE audit_event_gone RENAME TO audit_event")
    assert (await Patient.get(public_id=own)).version == 1
    assert not await PatientRevision.exists()
    served = await update(client, own, 1, {"phone": "217-555-0166"}, "desk")
    assert served.json()["data"]["updatePatient"]["version"] == 2


async def test_a_patient_sees_who_changed_their_record(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    assert "errors" not in (await update(client, own, 1, {"city": "Shelbyville"}, "desk")).json()
    log = await gql(
        client, "{ myAccessLog { edges { node { action role fields } } } }", as_user="alice"
    )
    actions = [edge["node"] for edge in log.json()["data"]["myAccessLog"]["edges"]]
    assert {"action": "UPDATE", "role": "front_desk", "fields": ["Patient.city"]} in actions
