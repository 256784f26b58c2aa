"""Every role x every @phi field x (own / other patient): the exact decision, through HTTP,
and exactly one audit record per resolved PHI field carrying that decision."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from models import AuditEvent
from tests.helpers import audited_fields, gql
from tests.world import CLINICAL, OTHER, OWN, World

QUERY = """
query($id: ID!) {
  patient(id: $id) {
    id mrn givenName familyName birthDate ssn phone email street city zip
    encounters { id kind startDate }
    diagnoses { id code description recordedDate }
    observations { id code value unit effectiveDate }
    notes { id text authoredDate }
  }
}
"""

# Written out independently of permissions/policy.py, so a change there must be made here too.
# Order: NAME SSN MRN DATE ADDRESS ZIP PHONE EMAIL DIAGNOSIS LAB NOTE
CATEGORIES = ("NAME", "SSN", "MRN", "DATE", "ADDRESS", "ZIP", "PHONE", "EMAIL", "DX", "LAB", "NOTE")
EXPECTED = {
    "doc": "AAAAAAAAAAA",
    "nurse": "AMAAAAAAAAA",
    "desk": "AMAAAAAADDD",
    "billing": "AAAAAAAAADD",
    "alice": "AAAAAAAAAAA",
    "rae": "DDDDDDDDDDD",
    "auditor": "DDDDDDDDDDD",
    "admin": "DDDDDDDDDDD",
}
FIELD_OVERRIDES = {("nurse", "Patient.birthDate"): "M"}
VISIBLE = {"own": {"doc", "nurse", "desk", "billing", "alice"}, "other": {"desk"}}

# (GraphQL field, category, column, masked form for own / other)
PATIENT_FIELDS = [
    ("mrn", "MRN", "mrn", ("****0123", "****0456")),
    ("givenName", "NAME", "given_name", ("A.", "B.")),
    ("familyName", "NAME", "family_name", ("Q.", "O.")),
    ("birthDate", "DATE", "birth_date", ("1980", "1955")),
    ("ssn", "SSN", "ssn", ("***-**-3456", "***-**-5678")),
    ("phone", "PHONE", "phone", ("***-***-0142", "***-***-0199")),
    ("email", "EMAIL", "email", ("***@example.org", "***@example.org")),
    ("street", "ADDRESS", "street", (None, None)),
    ("city", "ADDRESS", "city", (None, None)),
    ("zip", "ZIP", "zip", ("627**", "825**")),
]
CHILD_FIELDS = [
    ("encounters", "Encounter", "kind", "DX", CLINICAL["encounter"]["kind"]),
    ("encounters", "Encounter", "startDate", "DATE", CLINICAL["encounter"]["start_date"]),
    ("diagnoses", "Diagnosis", "code", "DX", CLINICAL["diagnosis"]["code"]),
    ("diagnoses", "Diagnosis", "description", "DX", CLINICAL["diagnosis"]["description"]),
    ("diagnoses", "Diagnosis", "recordedDate", "DATE", CLINICAL["diagnosis"]["recorded_date"]),
    ("observations", "Observation", "code", "LAB", CLINICAL["observation"]["code"]),
    ("observations", "Observation", "value", "LAB", CLINICAL["observation"]["value"]),
    ("observations", "Observation", "unit", "LAB", CLINICAL["observation"]["unit"]),
    (
        "observations",
        "Observation",
        "effectiveDate",
        "DATE",
        CLINICAL["observation"]["effective_date"],
    ),
    ("notes", "ClinicalNote", "text", "NOTE", CLINICAL["note"]["text"]),
    ("notes", "ClinicalNote", "authoredDate", "DATE", CLINICAL["note"]["authored_date"]),
]
# A list of entries is guarded as a whole by their category: its length is a count of them.
LIST_CATEGORIES = {"diagnoses": "DX", "observations": "LAB", "notes": "NOTE"}
DECISION_NAMES = {"A": "ALLOW", "M": "MASK", "D": "DENY"}


def decision(user: str, field: str, category: str) -> str:
    override = FIELD_OVERRIDES.get((user, field))
    return override or EXPECTED[user][CATEGORIES.index(category)]


def expected_response(user: str, which: str) -> tuple[dict[str, Any], dict[tuple[Any, ...], str]]:
    """The exact `patient` object and the decision per field path."""
    values = OWN if which == "own" else OTHER
    decisions: dict[tuple[Any, ...], str] = {}
    patient: dict[str, Any] = {}
    for name, category, column, masked in PATIENT_FIELDS:
        d = decision(user, f"Patient.{name}", category)
        decisions[("patient", name)] = d
        patient[name] = {"A": values[column], "M": masked[which != "own"], "D": None}[d]
    for list_name, category in LIST_CATEGORIES.items():
        if decision(user, f"Patient.{list_name}", category) == "D":
            decisions[("patient", list_name)] = "D"
            patient[list_name] = None
    for list_name, type_name, name, category, plain in CHILD_FIELDS:
        if ("patient", list_name) in decisions:
            continue
        if which != "own":
            patient[list_name] = []
            continue
        d = decision(user, f"{type_name}.{name}", category)
        assert d != "M", "no clinical field is masked for any role"
        decisions[("patient", list_name, 0, name)] = d
        patient.setdefault(list_name, [{}])[0][name] = plain if d == "A" else None
    return patient, decisions


def strip_ids(patient: dict[str, Any]) -> dict[str, Any]:
    """Drop ids and non-PHI fields from child lists so the comparison is about PHI."""
    out = {k: v for k, v in patient.items() if k != "id"}
    for list_name in ("encounters", "diagnoses", "observations", "notes"):
        if patient[list_name] is not None:
            out[list_name] = [
                {k: v for k, v in item.items() if k != "id"} for item in patient[list_name]
            ]
    return out


@pytest.mark.parametrize("which", ["own", "other"])
@pytest.mark.parametrize("user", sorted(EXPECTED))
async def test_decision_matrix(
    client: httpx.AsyncClient, world: World, user: str, which: str
) -> None:
    patient_id = world.patients[which]
    response = await gql(client, QUERY, {"id": patient_id}, as_user=user)
    assert response.status_code == 200
    body = response.json()
    records = await audited_fields(response.headers["x-request-id"])

    if user not in VISIBLE[which]:
        assert body["data"] == {"patient": None}
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
            (["patient"], "NOT_FOUND")
        ]
        assert records == []
        return

    patient, decisions = expected_response(user, which)
    assert body["data"]["patient"]["id"] == patient_id
    assert strip_ids(body["data"]["patient"]) == patient
    denied = sorted(path for path, d in decisions.items() if d == "D")
    errors = body.get("errors", [])
    assert sorted(tuple(e["path"]) for e in errors) == denied
    assert {e["extensions"]["code"] for e in errors} <= {"FORBIDDEN"}

    recorded = {tuple(path.split(".")): decision for _, _, path, decision in records}
    assert len(records) == len(decisions), "one audit entry per resolved PHI field"
    assert recorded == {
        tuple(str(p) for p in path): DECISION_NAMES[d] for path, d in decisions.items()
    }
    assert {patient for patient, *_ in records} == {patient_id}
    rows = await AuditEvent.filter(request_id=response.headers["x-request-id"])
    assert len({r.actor for r in rows}) == 1
    assert all(r.role and r.purpose and r.request_id and r.at for r in rows)
