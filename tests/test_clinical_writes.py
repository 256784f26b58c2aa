"""Clinical writes through HTTP, on both databases: diagnoses, observations, notes and
encounters added and amended all or nothing, validated, versioned, never deleted (entered in
error stays on record), kept in history decided per role, idempotent, audited with the write;
and the inference leaks of #18 item 7 closed (unit, kind, counts)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from tortoise import connections

from models import AuditEvent, ClinicalNote, Diagnosis, DiagnosisRevision, Encounter, Patient
from tests.helpers import AS_USER, gql, write_records
from tests.world import CLINICAL, World

ADD_DIAGNOSIS = """
mutation($patient: ID!, $encounter: ID, $input: NewDiagnosis!) {
  addDiagnosis(patient: $patient, encounter: $encounter, input: $input) {
    id version status code description recordedDate
  }
}
"""
AMEND_DIAGNOSIS = """
mutation($id: ID!, $version: Int!, $input: DiagnosisChanges!, $reason: String!) {
  amendDiagnosis(id: $id, version: $version, input: $input, reason: $reason) {
    id version status code
  }
}
"""
ADD_OBSERVATION = """
mutation($patient: ID!, $input: NewObservation!) {
  addObservation(patient: $patient, input: $input) { id version code value unit }
}
"""
ADD_NOTE = """
mutation($patient: ID!, $encounter: ID, $input: NewNote!) {
  addNote(patient: $patient, encounter: $encounter, input: $input) { id version text }
}
"""
START = """
mutation($patient: ID!, $input: NewEncounter!) {
  startEncounter(patient: $patient, input: $input) { id kind startDate }
}
"""
ENTRY = """
query($id: ID!) {
  node(id: $id) {
    ... on Diagnosis {
      version status code recordedDate
      history { version status changed role reason code description recordedDate }
    }
  }
}
"""
DIAGNOSIS = {"code": "I10", "description": "Essential hypertension", "recordedDate": "2024-05-01"}
OBSERVATION = {
    "code": "2345-7",
    "value": "5.4",
    "unit": "mmol/L-q7",
    "effectiveDate": "2024-05-02",
}

ICD_SHAPE = "A00.0 shape, capital letters"
KINDS = "OUTPATIENT, INPATIENT, EMERGENCY, VIRTUAL"


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    user: str,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={AS_USER: user, **(headers or {})},
    )


async def add_diagnosis(
    client: httpx.AsyncClient, world: World, user: str = "doc", **kw: Any
) -> httpx.Response:
    variables = {"patient": world.patients["own"], "input": DIAGNOSIS, **kw}
    return await post(client, ADD_DIAGNOSIS, variables, user)


async def amend_diagnosis(
    client: httpx.AsyncClient, entry: str, version: int, changes: dict[str, Any], user: str = "doc"
) -> httpx.Response:
    variables = {"id": entry, "version": version, "input": changes, "reason": "Reviewed labs"}
    return await post(client, AMEND_DIAGNOSIS, variables, user)


async def test_a_physician_adds_a_diagnosis_at_an_encounter(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await add_diagnosis(client, world, encounter=world.children["encounter"])
    body = response.json()
    assert "errors" not in body, body
    added = body["data"]["addDiagnosis"]
    assert {k: added[k] for k in DIAGNOSIS} == DIAGNOSIS
    assert (added["version"], added["status"]) == (1, "CURRENT")
    row = await Diagnosis.get(public_id=added["id"])
    assert row.encounter_id == (await Encounter.get(public_id=world.children["encounter"])).id  # type: ignore[attr-defined]
    [(event, decision, fields)] = await write_records(response.headers["x-request-id"])
    assert (event, decision) == ("CREATE", "ALLOW")
    assert fields == [(f"Diagnosis.{k}", f"addDiagnosis.input.{k}") for k in DIAGNOSIS]
    listed = await gql(
        client,
        "query($id: ID!) { patient(id: $id) { diagnoses { id } } }",
        {"id": world.patients["own"]},
        as_user="doc",
    )
    assert len(listed.json()["data"]["patient"]["diagnoses"]) == 2


async def test_an_encounter_of_another_patient_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    other = Encounter(patient_id=(await _pk(world.patients["other"])))
    response = await add_diagnosis(client, world, encounter=other.public_id)
    assert codes(response) == ["BAD_USER_INPUT"]
    assert response.json()["errors"][0]["extensions"]["field"] == "encounter"
    assert await Diagnosis.all().count() == 1


async def _pk(public_id: str) -> int:
    return (await Patient.get(public_id=public_id)).id


async def test_a_nurse_notes_and_observes_but_diagnoses_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    note = await post(
        client,
        ADD_NOTE,
        {"patient": own, "input": {"text": "BP 150/95.\nRecheck.", "authoredDate": "2024-05-01"}},
        "nurse",
    )
    assert note.json()["data"]["addNote"]["text"] == "BP 150/95.\nRecheck."
    written = await ClinicalNote.get(public_id=note.json()["data"]["addNote"]["id"])
    assert written.author_id is not None  # type: ignore[attr-defined]
    observed = await post(client, ADD_OBSERVATION, {"patient": own, "input": OBSERVATION}, "nurse")
    assert observed.json()["data"]["addObservation"]["unit"] == OBSERVATION["unit"]
    refused = await add_diagnosis(client, world, user="nurse")
    body = refused.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "FORBIDDEN",
        "input.code",
    )
    assert DIAGNOSIS["description"] not in refused.text
    assert await Diagnosis.all().count() == 1
    [(event, decision, fields)] = await write_records(refused.headers["x-request-id"])
    assert (event, decision) == ("CREATE", "DENY")
    assert [f for f, _ in fields] == [f"Diagnosis.{k}" for k in DIAGNOSIS]


async def test_server_owned_fields_are_not_in_clinical_inputs(
    client: httpx.AsyncClient, world: World
) -> None:
    for field, value in [
        ("id", "dx_x"),
        ("version", 7),
        ("status", "CURRENT"),
        ("patient", world.patients["other"]),
        ("encounter", world.children["encounter"]),
        ("author", "usr_x"),
    ]:
        response = await add_diagnosis(client, world, input={**DIAGNOSIS, field: value})
        assert codes(response) == ["GRAPHQL_VALIDATION_FAILED"] or response.status_code == 400
    assert await Diagnosis.all().count() == 1


@pytest.mark.parametrize(
    ("query", "field", "value", "reason"),
    [
        (ADD_DIAGNOSIS, "code", "e11.9", f"must be an ICD-10-CM code ({ICD_SHAPE})"),
        (ADD_DIAGNOSIS, "recordedDate", "2999-01-01", "must not be in the future"),
        (ADD_DIAGNOSIS, "recordedDate", "2024-02-30", "must be a real date, YYYY-MM-DD"),
        (ADD_DIAGNOSIS, "description", "d" * 501, "must be at most 500 characters"),
        (ADD_OBSERVATION, "code", "2345-8", "must be a LOINC code (NNNNN-N, with its check digit)"),
        (ADD_OBSERVATION, "unit", "u" * 33, "must be at most 32 characters"),
        (START, "kind", "EMERGENCYROOM", f"must be one of {KINDS}"),
        (ADD_NOTE, "text", "n" * 10_001, "must be at most 10000 characters"),
    ],
)  # fmt: skip
async def test_a_bad_clinical_value_names_its_path_and_never_echoes_it(
    client: httpx.AsyncClient, world: World, query: str, field: str, value: str, reason: str
) -> None:
    valid = {
        ADD_DIAGNOSIS: (DIAGNOSIS, "doc"),
        ADD_OBSERVATION: (OBSERVATION, "nurse"),
        START: ({"kind": "INPATIENT", "startDate": "2024-05-01"}, "doc"),
        ADD_NOTE: ({"text": "ok", "authoredDate": "2024-05-01"}, "doc"),
    }
    values, user = valid[query]
    variables = {"patient": world.patients["own"], "input": {**values, field: value}}
    response = await post(client, query, variables, user)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"] == f"input.{field}: {reason}"
    assert error["extensions"]["field"] == f"input.{field}"
    assert value not in json.dumps(error)
    assert not await AuditEvent.filter(event="CREATE").exists()


async def test_a_stale_version_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    entry = world.children["diagnosis"]
    first = await amend_diagnosis(client, entry, 1, {"code": "E11.65"})
    assert first.json()["data"]["amendDiagnosis"] == {
        "id": entry,
        "version": 2,
        "status": "AMENDED",
        "code": "E11.65",
    }
    stale = await amend_diagnosis(client, entry, 1, {"code": "E11.8"})
    assert codes(stale) == ["CONFLICT"]
    assert await write_records(stale.headers["x-request-id"]) == []
    assert await DiagnosisRevision.all().count() == 1
    assert (await Diagnosis.get(public_id=entry)).version == 2


async def test_two_concurrent_amendments_exactly_one_wins(
    client: httpx.AsyncClient, world: World
) -> None:
    entry = world.children["diagnosis"]
    responses = await asyncio.gather(
        amend_diagnosis(client, entry, 1, {"code": "E11.65"}),
        amend_diagnosis(client, entry, 1, {"code": "E11.8"}),
    )
    assert sorted(tuple(codes(r)) for r in responses) == [(), ("CONFLICT",)]
    assert (await Diagnosis.get(public_id=entry)).version == 2
    assert await DiagnosisRevision.all().count() == 1
    assert await AuditEvent.filter(event="AMEND").count() == 1


async def test_an_idempotent_retry_adds_once(client: httpx.AsyncClient, world: World) -> None:
    key = {"Idempotency-Key": "note-retry-1"}
    variables = {
        "patient": world.patients["own"],
        "input": {"text": "Flaky network", "authoredDate": "2024-05-01"},
    }
    first = await post(client, ADD_NOTE, variables, "nurse", key)
    again = await post(client, ADD_NOTE, variables, "nurse", key)
    assert "errors" not in first.json(), first.json()
    assert first.json()["data"] == again.json()["data"]
    assert await ClinicalNote.all().count() == 2
    assert await AuditEvent.filter(event="CREATE").count() == 1
    amended = {"id": world.children["note"], "version": 1, "input": {"text": "x"}, "reason": "r"}
    reused = await post(
        client,
        "mutation($id: ID!, $version: Int!, $input: NoteChanges!, $reason: String!) {"
        " amendNote(id: $id, version: $version, input: $input, reason: $reason) { id } }",
        amended,
        "nurse",
        key,
    )
    assert codes(reused) == ["BAD_USER_INPUT"]


async def test_entered_in_error_stays_on_record_labelled(
    client: httpx.AsyncClient, world: World
) -> None:
    entry = world.children["diagnosis"]
    # A nurse may not write a diagnosis, so may not withdraw one either.
    refused = await amend_diagnosis(client, entry, 1, {"enteredInError": True}, user="nurse")
    assert refused.json()["errors"][0]["extensions"]["field"] == "input.enteredInError"
    marked = await amend_diagnosis(client, entry, 1, {"enteredInError": True})
    assert marked.json()["data"]["amendDiagnosis"]["status"] == "ENTERED_IN_ERROR"
    [(event, decision, fields)] = await write_records(marked.headers["x-request-id"])
    assert (event, decision, fields) == (
        "AMEND",
        "ALLOW",
        [("Diagnosis.code", "amendDiagnosis.input.enteredInError")],
    )
    listed = await gql(
        client,
        "query($id: ID!) { patient(id: $id) { diagnoses { id status code } } }",
        {"id": world.patients["own"]},
        as_user="doc",
    )
    assert listed.json()["data"]["patient"]["diagnoses"] == [
        {"id": entry, "status": "ENTERED_IN_ERROR", "code": CLINICAL["diagnosis"]["code"]}
    ]
    history = (await gql(client, ENTRY, {"id": entry}, as_user="doc")).json()["data"]["node"]
    [revision] = history["history"]
    assert (revision["version"], revision["status"], revision["changed"]) == (
        1,
        "CURRENT",
        ["enteredInError"],
    )
    again = await amend_diagnosis(client, entry, 2, {"code": "E11.8"})
    assert codes(again) == ["BAD_USER_INPUT"]
    assert await Diagnosis.all().count() == 1


async def test_history_is_decided_per_role(client: httpx.AsyncClient, world: World) -> None:
    entry = world.children["diagnosis"]
    changed = {"code": "E11.65", "recordedDate": "2024-03-09"}
    assert "errors" not in (await amend_diagnosis(client, entry, 1, changed)).json()
    doc = (await gql(client, ENTRY, {"id": entry}, as_user="doc")).json()
    [revision] = doc["data"]["node"]["history"]
    assert revision == {
        "version": 1,
        "status": "CURRENT",
        "changed": ["code", "recordedDate"],
        "role": "physician",
        "reason": "Reviewed labs",
        "code": CLINICAL["diagnosis"]["code"],
        "description": None,
        "recordedDate": CLINICAL["diagnosis"]["recorded_date"],
    }
    # The front desk reads dates, not diagnoses: the same in the history as now.
    desk = (await gql(client, ENTRY, {"id": entry}, as_user="desk")).json()
    [earlier] = desk["data"]["node"]["history"]
    assert earlier["recordedDate"] == CLINICAL["diagnosis"]["recorded_date"]
    assert (earlier["code"], earlier["reason"], desk["data"]["node"]["code"]) == (None,) * 3
    denied = sorted(tuple(e["path"]) for e in desk["errors"])
    assert denied == [
        ("node", "code"),
        ("node", "history", 0, "code"),
        ("node", "history", 0, "description"),
        ("node", "history", 0, "reason"),
    ]
    rae = await gql(client, ENTRY, {"id": entry}, as_user="rae")
    assert codes(rae) == ["NOT_FOUND"]


async def test_a_patient_outside_the_callers_rows_is_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await post(
        client, ADD_DIAGNOSIS, {"patient": world.patients["other"], "input": DIAGNOSIS}, "doc"
    )
    assert codes(response) == ["NOT_FOUND"]
    assert await write_records(response.headers["x-request-id"]) == []


async def test_write_and_audit_are_one_transaction(client: httpx.AsyncClient, world: World) -> None:
    entry = world.children["diagnosis"]
    db = connections.get("default")
    # The amendment's record goes in first, then the entry, then the revision.
    await db.execute_script("ALTER TABLE diagnosis_revision RENAME TO diagnosis_revision_gone")
    failed = await amend_diagnosis(client, entry, 1, {"code": "E11.65"})
    assert failed.json()["data"] is None
    await db.execute_script("ALTER TABLE diagnosis_revision_gone RENAME TO diagnosis_revision")
    assert not await AuditEvent.filter(event="AMEND").exists()
    assert (await Diagnosis.get(public_id=entry)).version == 1
    await db.execute_script("ALTER TABLE audit_event RENAME TO audit_event_gone")
    refused = await amend_diagnosis(client, entry, 1, {"code": "E11.65"})
    await db.execute_script("ALTER TABLE audit_event_gone RENAME TO audit_event")
    assert "AUDIT_UNAVAILABLE" in codes(refused)
    assert (await Diagnosis.get(public_id=entry)).version == 1
    assert not await DiagnosisRevision.exists()


async def test_no_submitted_clinical_value_is_stored_in_plaintext(
    client: httpx.AsyncClient, world: World
) -> None:
    own = world.patients["own"]
    started = await post(
        client,
        START,
        {"patient": own, "input": {"kind": "VIRTUAL", "startDate": "2024-05-01"}},
        "doc",
    )
    assert started.json()["data"]["startEncounter"]["kind"] == "VIRTUAL"
    added = await add_diagnosis(client, world)
    entry = added.json()["data"]["addDiagnosis"]["id"]
    await post(client, ADD_OBSERVATION, {"patient": own, "input": OBSERVATION}, "nurse")
    variables = {
        "id": entry,
        "version": 1,
        "input": {"description": "Hypertensive heart disease"},
        "reason": "Echo showed left ventricular hypertrophy",
    }
    assert "errors" not in (await post(client, AMEND_DIAGNOSIS, variables, "doc")).json()
    dumped = []
    for table in ("encounter", "diagnosis", "observation", "diagnosis_revision", "audit_event"):
        rows = await connections.get("default").execute_query_dict(f"SELECT * FROM {table}")  # noqa: S608
        dumped.append(repr(rows))
    text = "\n".join(dumped)
    secrets = [
        "VIRTUAL",
        "EMERGENCY",
        *DIAGNOSIS.values(),
        *OBSERVATION.values(),
        "Hypertensive heart disease",
        "left ventricular",
    ]
    for value in secrets:
        assert value not in text, value


async def test_a_front_desk_starts_an_encounter_it_may_not_read_the_kind_of(
    client: httpx.AsyncClient, world: World
) -> None:
    variables = {
        "patient": world.patients["own"],
        "input": {"kind": "EMERGENCY", "startDate": "2024-05-01"},
    }
    response = await post(client, START, variables, "desk")
    body = response.json()
    assert body["data"]["startEncounter"]["startDate"] == "2024-05-01"
    assert body["data"]["startEncounter"]["kind"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["startEncounter", "kind"], "FORBIDDEN")
    ]
    read = await gql(
        client,
        "query($id: ID!) { node(id: $id) { ... on Encounter { kind } } }",
        {"id": body["data"]["startEncounter"]["id"]},
        as_user="billing",
    )
    assert read.json()["data"]["node"]["kind"] == "EMERGENCY"


COUNTS = """
query($id: ID!) {
  patient(id: $id) {
    encounters { kind }
    diagnoses { id }
    observations { id unit }
    notes { id }
  }
}
"""


@pytest.mark.parametrize(
    ("user", "denied"),
    [
        ("desk", ["diagnoses", "notes", "observations", "encounters.0.kind"]),
        ("billing", ["notes", "observations"]),
        ("parent", ["diagnoses", "notes", "observations", "encounters.0.kind"]),
        ("doc", []),
    ],
)
async def test_no_unit_kind_or_count_reaches_a_role_denied_its_category(
    client: httpx.AsyncClient, world: World, user: str, denied: list[str]
) -> None:
    patient = world.patients["child" if user == "parent" else "own"]
    if user == "parent":
        # An encounter of the child's, seen through a DEMOGRAPHICS proxy grant.
        variables = {"patient": patient, "input": {"kind": "EMERGENCY", "startDate": "2024-05-01"}}
        assert (await post(client, START, variables, "desk")).json()["data"]["startEncounter"]
    response = await gql(client, COUNTS, {"id": patient}, as_user=user)
    body = response.json()
    paths = sorted(".".join(str(p) for p in e["path"][1:]) for e in body.get("errors", []))
    assert paths == sorted(denied)
    assert {e["extensions"]["code"] for e in body.get("errors", [])} <= {"FORBIDDEN"}
    got = body["data"]["patient"]
    for name in ("diagnoses", "observations", "notes"):
        assert (got[name] is None) == (name in denied)
    if "observations" not in denied:
        assert got["observations"][0]["unit"] == CLINICAL["observation"]["unit"]
    request = response.headers["x-request-id"]
    refused = await AuditEvent.filter(request_id=request, decision="DENY")
    listed = {field for r in refused for field, _ in r.accessed() if field.startswith("Patient.")}
    assert listed == {f"Patient.{name}" for name in denied if "." not in name}
