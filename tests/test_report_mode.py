"""`report { patients }`: every @phi field through its Safe Harbor transform, ages pooled at 90+,
restricted ZIP areas as 000, staff within their own policy, and every read audited."""

from __future__ import annotations

from typing import Any

import httpx

from crypto.keyring import Keyring
from models import CareTeamAssignment, Organization, Patient, User
from permissions.deidentify import report_date
from tests.helpers import audited_fields, gql
from tests.synthetic import seed_patient
from tests.world import CLINICAL, OWN, World

QUERY = """
{
  report {
    patients(first: 20) {
      totalCount
      edges {
        age
        node {
          id givenName familyName ssn mrn birthDate phone email street city zip
          encounters { id startDate }
          diagnoses { id code description recordedDate }
          observations { id code value effectiveDate }
          notes { id text authoredDate }
        }
      }
    }
  }
}
"""
FIELDS = {
    "Patient.givenName", "Patient.familyName", "Patient.ssn", "Patient.mrn", "Patient.birthDate",
    "Patient.phone", "Patient.email", "Patient.street", "Patient.city", "Patient.zip",
    "Encounter.startDate", "Diagnosis.code", "Diagnosis.description", "Diagnosis.recordedDate",
    "Observation.code", "Observation.value", "Observation.effectiveDate", "ClinicalNote.text",
    "ClinicalNote.authoredDate", "ReportPatientEdge.age",
}  # fmt: skip
REMOVED = dict.fromkeys(
    ("givenName", "familyName", "ssn", "mrn", "phone", "email", "street", "city")
)


def age_of(birth: str) -> str:
    return str(report_date().year - int(birth[:4]))


async def in_care_of_doc(*patients: Patient) -> None:
    """Widen the physician's care team, so their report (which offers row-level pages within
    the identified view only) covers these patients with every category."""
    doc = await User.get(username="doc")
    for patient in patients:
        await CareTeamAssignment.create(
            user=doc, patient=patient, patient_public_id=patient.public_id
        )


def rows_by_birth_year(body: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    edges = body["data"]["report"]["patients"]["edges"]
    return {edge["node"]["birthDate"]: {"age": edge["age"], **edge["node"]} for edge in edges}


async def test_report_deidentifies_every_category(client: httpx.AsyncClient, world: World) -> None:
    await in_care_of_doc(
        *[await Patient.get(public_id=world.patients[name]) for name in ("other", "child")]
    )
    response = await gql(client, QUERY, as_user="doc")
    body = response.json()
    assert "errors" not in body, body
    rows = rows_by_birth_year(body)
    assert set(rows) == {"1980", "1955", "2015"}
    own = rows["1980"]
    ids = [own["id"], *(child["id"] for kind in ("encounters", "diagnoses") for child in own[kind])]
    assert all(i.startswith("rid_") for i in ids)
    assert len(set(ids)) == len(ids)
    assert {k: v for k, v in own.items() if k != "id"} == {
        **REMOVED,
        "age": age_of(OWN["birth_date"]),
        "birthDate": "1980",
        "zip": "627",
        "encounters": [{"id": own["encounters"][0]["id"], "startDate": "2024"}],
        "diagnoses": [
            {
                "id": own["diagnoses"][0]["id"],
                "code": CLINICAL["diagnosis"]["code"],
                "description": CLINICAL["diagnosis"]["description"],
                "recordedDate": "2024",
            }
        ],
        "observations": [
            {
                "id": own["observations"][0]["id"],
                "code": CLINICAL["observation"]["code"],
                "value": CLINICAL["observation"]["value"],
                "effectiveDate": "2024",
            }
        ],
        "notes": [{"id": own["notes"][0]["id"], "text": None, "authoredDate": "2024"}],
    }
    assert rows["1955"]["zip"] == "825"
    assert rows["2015"]["zip"] == "627"

    audit = await audited_fields(response.headers["x-request-id"])
    assert {decision for *_, decision in audit} == {"DEIDENTIFY"}
    assert {patient for patient, *_ in audit} == set(world.patients.values())
    assert {field for _, field, _, _ in audit} == FIELDS


async def test_ages_over_89_and_sparse_zip_areas(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    org = await Organization.get(name="Test Hospital")
    today = report_date()
    common = {"mrn": "MRN-1", "given_name": "G", "family_name": "F"}
    # Ages count from the birth year: born on the last day of the year 90 years back is 90+;
    # on the first day of the next year, 89. Both in sparsely populated ZIP areas.
    ninety_plus = await seed_patient(
        keyring, org, {**common, "birth_date": f"{today.year - 90}-12-31", "zip": "05901"},
        [("I10", "2024-01-09")],
    )  # fmt: skip
    almost = f"{today.year - 89}-01-01"
    await in_care_of_doc(
        ninety_plus,
        await seed_patient(keyring, org, {**common, "birth_date": almost, "zip": "89301"}),
    )
    rows = rows_by_birth_year((await gql(client, QUERY, as_user="doc")).json())
    ninety = rows[None]
    assert (ninety["age"], ninety["zip"]) == ("90+", "000")
    # The year of a 90+ birth date is withheld; the years of the patient's care are not.
    assert ninety["diagnoses"][0]["recordedDate"] == "2024"
    eighty_nine = rows[almost[:4]]
    assert (eighty_nine["age"], eighty_nine["zip"]) == ("89", "000")


async def test_staff_reports_stay_within_the_role_policy(
    client: httpx.AsyncClient, world: World
) -> None:
    desk = (await gql(client, QUERY, as_user="desk")).json()
    rows = rows_by_birth_year(desk)
    assert set(rows) == {"1980", "1955", "2015"}  # front desk: every patient
    # No clinical data, as identified: not even how many entries there are.
    assert rows["1980"]["diagnoses"] is None
    denied = {e["path"][-1] for e in desk["errors"]}
    assert {"diagnoses", "observations"} <= denied
    assert {e["extensions"]["code"] for e in desk["errors"]} == {"FORBIDDEN"}

    doc = (await gql(client, QUERY, as_user="doc")).json()
    assert "errors" not in doc
    assert set(rows_by_birth_year(doc)) == {"1980"}  # physician: the care team's patients
