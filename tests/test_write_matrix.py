"""Every role x every writable patient field, through HTTP: written and audited ALLOW, or
refused whole (FORBIDDEN naming the field, nothing written, audited DENY), or NOT_FOUND for a
patient outside the caller's rows. Written out independently of permissions/policy.py."""

from __future__ import annotations

import httpx
import pytest

from models import AuditEvent, ClinicalNote, Diagnosis, Encounter, Observation, Patient
from tests.helpers import AS_USER
from tests.world import World

UPDATE = """
mutation($id: ID!, $version: Int!, $input: PatientChanges!) {
  updatePatient(id: $id, version: $version, input: $input) { version }
}
"""
VALUES = {
    "mrn": ("MRN", "MRN-777001"),
    "givenName": ("NAME", "Alina"),
    "familyName": ("NAME", "Quintero"),
    "birthDate": ("DATE", "1980-05-18"),
    "gender": ("GENDER", "other"),
    "ssn": ("SSN", "321-54-9876"),
    "phone": ("PHONE", "217-555-0111"),
    "email": ("EMAIL", "a.q@example.net"),
    "street": ("ADDRESS", "18 Lantern Row"),
    "city": ("ADDRESS", "Shelbyville"),
    "zip": ("ZIP", "62705"),
}
WRITES = {
    "doc": set(),
    "nurse": set(),
    "desk": {"NAME", "SSN", "MRN", "DATE", "GENDER", "ADDRESS", "ZIP", "PHONE", "EMAIL"},
    "billing": set(),
    "alice": {"ADDRESS", "ZIP", "PHONE", "EMAIL"},
    "rae": set(),
    "auditor": set(),
    "admin": set(),
}
SEES_OWN = {"doc", "nurse", "desk", "billing", "alice"}


@pytest.mark.parametrize("user", sorted(WRITES))
async def test_write_matrix(client: httpx.AsyncClient, world: World, user: str) -> None:
    own = world.patients["own"]
    version = 1
    for field, (category, value) in VALUES.items():
        response = await client.post(
            "/graphql",
            json={
                "query": UPDATE,
                "variables": {"id": own, "version": version, "input": {field: value}},
            },
            headers={AS_USER: user},
        )
        body = response.json()
        request_id = response.headers["x-request-id"]
        records = await AuditEvent.filter(request_id=request_id, event="UPDATE")
        if user not in SEES_OWN:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
            assert records == []
        elif category in WRITES[user]:
            assert body["data"]["updatePatient"]["version"] == version + 1, (field, body)
            version += 1
            assert [(r.decision, r.accessed()) for r in records] == [
                ("ALLOW", [(f"Patient.{field}", f"updatePatient.input.{field}")])
            ]
        else:
            [error] = body["errors"]
            assert error["extensions"]["code"] == "FORBIDDEN", (field, body)
            assert error["extensions"]["field"] == f"input.{field}"
            assert [(r.decision, r.accessed()) for r in records] == [
                ("DENY", [(f"Patient.{field}", f"updatePatient.input.{field}")])
            ]
        assert (await Patient.get(public_id=own)).version == version


# Clinical entries: (mutation, world child, @phi type, input field, value), amended one field at
# a time; `enteredInError` is decided as the entry's defining field and ends its amendments,
# so it comes last for each entry.
AMEND = """
mutation($id: ID!, $version: Int!, $input: {input}!) {{
  {mutation}(id: $id, version: $version, input: $input, reason: "Matrix") {{ version }}
}}
"""
ENTRIES = {
    "diagnosis": ("amendDiagnosis", "DiagnosisChanges", "Diagnosis"),
    "observation": ("amendObservation", "ObservationChanges", "Observation"),
    "note": ("amendNote", "NoteChanges", "ClinicalNote"),
}
# (world child, input field, value, the @phi field whose write decision it takes)
CLINICAL_VALUES = [
    ("diagnosis", "code", "E11.65", "code"),
    ("diagnosis", "description", "Type 2", "description"),
    ("diagnosis", "recordedDate", "2024-03-04", "recordedDate"),
    ("diagnosis", "enteredInError", True, "code"),
    ("observation", "code", "2345-7", "code"),
    ("observation", "value", "6.9", "value"),
    ("observation", "unit", "mmol/mol", "unit"),
    ("observation", "effectiveDate", "2024-03-05", "effectiveDate"),
    ("observation", "enteredInError", True, "value"),
    ("note", "text", "Metformin 1g.", "text"),
    ("note", "authoredDate", "2024-03-06", "authoredDate"),
    ("note", "enteredInError", True, "text"),
]
CLINICAL_WRITERS = {
    "Diagnosis.code": {"doc"},
    "Diagnosis.description": {"doc"},
    "Diagnosis.recordedDate": {"doc"},
    "Observation.code": {"nurse"},
    "Observation.value": {"nurse"},
    "Observation.unit": {"nurse"},
    "Observation.effectiveDate": {"nurse"},
    "ClinicalNote.text": {"doc", "nurse"},
    "ClinicalNote.authoredDate": {"doc", "nurse"},
    "Encounter.kind": {"desk", "doc", "nurse"},
    "Encounter.startDate": {"desk", "doc", "nurse"},
}
MODELS = {"diagnosis": Diagnosis, "observation": Observation, "note": ClinicalNote}


@pytest.mark.parametrize("user", sorted(WRITES))
async def test_clinical_write_matrix(client: httpx.AsyncClient, world: World, user: str) -> None:
    versions = dict.fromkeys(MODELS, 1)
    for child, field, value, decided in CLINICAL_VALUES:
        mutation, input_type, type_name = ENTRIES[child]
        response = await client.post(
            "/graphql",
            json={
                "query": AMEND.format(input=input_type, mutation=mutation),
                "variables": {
                    "id": world.children[child],
                    "version": versions[child],
                    "input": {field: value},
                },
            },
            headers={AS_USER: user},
        )
        body = response.json()
        records = await AuditEvent.filter(
            request_id=response.headers["x-request-id"], event="AMEND"
        )
        entry = [(f"{type_name}.{decided}", f"{mutation}.input.{field}")]
        if user not in SEES_OWN:
            assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
            assert records == []
        elif user in CLINICAL_WRITERS[f"{type_name}.{decided}"]:
            assert body["data"][mutation]["version"] == versions[child] + 1, (field, body)
            versions[child] += 1
            assert [(r.decision, r.accessed()) for r in records] == [("ALLOW", entry)]
        else:
            [error] = body["errors"]
            assert error["extensions"]["code"] == "FORBIDDEN", (field, body)
            assert error["extensions"]["field"] == f"input.{field}"
            assert [(r.decision, r.accessed()) for r in records] == [("DENY", entry)]
        row = await MODELS[child].get(public_id=world.children[child])
        assert row.version == versions[child]


START = """
mutation($patient: ID!, $input: NewEncounter!) {
  startEncounter(patient: $patient, input: $input) { id }
}
"""


@pytest.mark.parametrize("user", sorted(WRITES))
async def test_start_encounter_matrix(client: httpx.AsyncClient, world: World, user: str) -> None:
    variables = {
        "patient": world.patients["own"],
        "input": {"kind": "INPATIENT", "startDate": "2024-04-01"},
    }
    response = await client.post(
        "/graphql", json={"query": START, "variables": variables}, headers={AS_USER: user}
    )
    body = response.json()
    records = await AuditEvent.filter(request_id=response.headers["x-request-id"], event="CREATE")
    fields = [
        ("Encounter.kind", "startEncounter.input.kind"),
        ("Encounter.startDate", "startEncounter.input.startDate"),
    ]
    count = await Encounter.all().count()
    if user not in SEES_OWN:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
        assert records == []
        assert count == 1
    elif user in CLINICAL_WRITERS["Encounter.kind"]:
        assert body["data"]["startEncounter"]["id"].startswith("enc_"), body
        assert [(r.decision, r.accessed()) for r in records] == [("ALLOW", fields)]
        assert count == 2
    else:
        [error] = body["errors"]
        assert (error["extensions"]["code"], error["extensions"]["field"]) == (
            "FORBIDDEN",
            "input.kind",
        )
        assert [(r.decision, r.accessed()) for r in records] == [("DENY", fields)]
        assert count == 1
