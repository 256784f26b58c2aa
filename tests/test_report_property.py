"""Property: whatever the patients, no report output holds an identifier of theirs.

Random synthetic patients (names, SSNs, MRNs, ZIPs, dates, phones, emails, addresses, a note
quoting them) are sealed through the real models and keyring into an organization of their
own; a physician caring for them runs a report through HTTP, rows and aggregates, and its
researcher the same report, which offers it aggregates only. No identifier value, full ZIP, full
date or public id may appear anywhere in either response's text.
"""

from __future__ import annotations

import itertools
import json
import os
import string
from datetime import date
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crypto.keyring import Keyring
from models import CareTeamAssignment, ClinicalNote, Diagnosis, Encounter, Patient
from permissions.roles import Role
from tests.helpers import gql
from tests.synthetic import member, organization_with_researcher, seed_patient

# Each example seeds a database: a tenth of the fuzzers' count, at least 8.
EXAMPLES = max(int(os.environ.get("PHIGATE_FUZZ_EXAMPLES", "80")) // 10, 8)
QUERY = """
{
  report {
    patients(first: 100) {
      edges {
        age
        node {
          id givenName familyName ssn mrn birthDate phone email street city zip
          encounters { id kind startDate }
          diagnoses { id code description recordedDate }
          notes { id text authoredDate }
        }
      }
      pageInfo { endCursor }
    }
    byZip: aggregate(by: [ZIP3, AGE_BAND]) { cells { zip3 ageBand count } suppressed total }
    byDx: aggregate(by: [DIAGNOSIS, YEAR]) { cells { diagnosis year count } suppressed total }
  }
}
"""
_word = st.text(string.ascii_letters, min_size=6, max_size=12)
_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31))
IDENTITY = st.fixed_dictionaries(
    {
        # A prefix no schema or JSON word starts with, so a match can only be a leak.
        "given_name": _word.map("Qz".__add__),
        "family_name": _word.map("Xq".__add__),
        "ssn": st.from_regex(r"9\d\d-\d\d-\d{4}", fullmatch=True),
        "mrn": st.from_regex(r"MRN-\d{6}", fullmatch=True),
        "zip": st.from_regex(r"\d{5}", fullmatch=True),
        "birth_date": _dates.map(date.isoformat),
        "phone": st.from_regex(r"555-\d{3}-\d{4}", fullmatch=True),
        "email": st.from_regex(r"[a-z]{6,10}@example\.org", fullmatch=True),
        "street": _word.map(lambda w: f"{len(w)} Wq{w} Street"),
        "city": _word.map("Cq".__add__),
    }
)
DIAGNOSES = st.lists(
    st.tuples(st.sampled_from(["E11.9", "I10", "J45.909"]), _dates.map(date.isoformat)),
    max_size=3,
)
PATIENTS = st.lists(st.tuples(IDENTITY, DIAGNOSES), min_size=1, max_size=6)
_organizations = itertools.count()


async def public_ids() -> set[str]:
    found: set[str] = set()
    for model in (Patient, Encounter, Diagnosis, ClinicalNote):
        found.update(await model.all().values_list("public_id", flat=True))
    return found


def response_text(body: dict[str, Any]) -> str:
    # Request ids are random hex, so a ZIP code could turn up in one by chance.
    for error in body.get("errors") or []:
        error.get("extensions", {}).pop("request_id", None)
    return json.dumps(body)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(patients=PATIENTS)
async def test_no_identifier_reaches_a_report(
    client: httpx.AsyncClient, keyring: Keyring, patients: list[tuple[dict[str, str], Any]]
) -> None:
    n = next(_organizations)
    org = await organization_with_researcher(f"Org {n}", f"researcher.{n}")
    physician = await member(org, f"physician.{n}", Role.PHYSICIAN)
    identifiers: set[str] = set()
    for identity, diagnoses in patients:
        note = f"Seen {identity['given_name']} {identity['family_name']}, SSN {identity['ssn']}"
        patient = await seed_patient(keyring, org, identity, diagnoses, note)
        await CareTeamAssignment.create(
            user=physician, patient=patient, patient_public_id=patient.public_id
        )
        identifiers |= set(identity.values()) | {recorded for _, recorded in diagnoses}
    rows = (await gql(client, QUERY, as_user=f"physician.{n}")).json()
    assert "errors" not in rows, rows
    assert len(rows["data"]["report"]["patients"]["edges"]) == len(patients)
    aggregates = (await gql(client, QUERY, as_user=f"researcher.{n}")).json()
    assert aggregates["data"]["report"]["patients"] is None
    assert [e["path"] for e in aggregates["errors"]] == [["report", "patients"]]
    text = response_text(rows) + response_text(aggregates)
    leaked = sorted(value for value in identifiers | await public_ids() if value in text)
    assert leaked == []
