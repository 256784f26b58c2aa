"""A patient's right of access: `GET /fhir/Patient/{id}/$everything`, the whole record as one
FHIR Bundle, for the patient (a real session), a proxy within the grant, and staff with their
role's decisions applied; audited, in the patient's access log, under the export budget."""

from __future__ import annotations

import base64
from dataclasses import replace
from types import MappingProxyType

import httpx
import pytest

from api.settings import Settings
from interchange.outbound import fhir_id
from models import AuditEvent, User
from permissions.policy import EXPORT_BUDGET
from permissions.roles import Role
from permissions.safeguards import Safeguards
from tests.fhir_checks import by_type, redacted, refused, valid
from tests.helpers import AS_USER, audited_fields, gql
from tests.test_auth import login
from tests.world import CHILD, CLINICAL, OTHER, OWN, World

EVERY_TYPE = {"Patient", "Encounter", "Condition", "Observation", "DocumentReference"}
ACCESS_LOG = "{ myAccessLog(first: 20) { edges { node { actor role fields action } } } }"


def everything(world: World, patient: str) -> str:
    return f"/fhir/Patient/{fhir_id(world.patients[patient])}/$everything"


async def export(
    client: httpx.AsyncClient, world: World, user: str, patient: str
) -> httpx.Response:
    return await client.get(everything(world, patient), headers={AS_USER: user})


async def test_a_patient_downloads_their_whole_record(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    token = (await login(session_client, "alice")).json()["token"]
    response = await session_client.get(
        everything(session_world, "own"), headers={"authorization": f"Bearer {token}"}
    )
    bundle = valid(response)
    assert (bundle["type"], bundle["total"], redacted(bundle)) == ("searchset", 5, False)
    found = by_type(bundle)
    (patient,) = found["Patient"]
    assert patient["id"] == fhir_id(session_world.patients["own"])
    assert {i["value"] for i in patient["identifier"]} == {OWN["mrn"], OWN["ssn"]}
    assert patient["name"] == [{"family": OWN["family_name"], "given": [OWN["given_name"]]}]
    assert patient["birthDate"] == OWN["birth_date"]
    assert patient["address"][0]["postalCode"] == OWN["zip"]
    (observation,) = found["Observation"]
    assert observation["code"]["coding"] == [{"system": "http://loinc.org", "code": "4548-4"}]
    assert observation["valueQuantity"]["value"] == float(CLINICAL["observation"]["value"])
    assert observation["valueQuantity"]["unit"] == CLINICAL["observation"]["unit"]
    (condition,) = found["Condition"]
    assert condition["code"]["coding"][0]["code"] == CLINICAL["diagnosis"]["code"]
    (note,) = found["DocumentReference"]
    text = base64.b64decode(note["content"][0]["attachment"]["data"]).decode()
    assert text == CLINICAL["note"]["text"]
    assert found["Encounter"][0]["class"]["code"] == "EMER"
    for resource in found["Observation"] + found["Condition"] + found["Encounter"]:
        assert resource["subject"] == {"reference": f"Patient/{patient['id']}"}

    # Audited as GraphQL reads are, every field under the `fhir` path, as the patient's request.
    accessed = await audited_fields(response.headers["x-request-id"])
    own = session_world.patients["own"]
    assert (own, "Patient.ssn", "fhir.ssn", "ALLOW") in accessed
    assert (own, "Observation.value", "fhir.observations.0.value", "ALLOW") in accessed
    assert {decision for *_, decision in accessed} == {"ALLOW"}
    purposes = await AuditEvent.filter(
        request_id=response.headers["x-request-id"], event="PHI_ACCESS"
    ).values_list("purpose", flat=True)
    assert set(purposes) == {"PATIENT_REQUEST"}

    # Someone else's record is not theirs to download, whether it exists or not.
    other = await session_client.get(
        everything(session_world, "other"), headers={"authorization": f"Bearer {token}"}
    )
    assert refused(other, 404, "not-found").startswith("Not found")
    assert OTHER["family_name"] not in other.text


async def test_a_proxy_downloads_within_the_grant(client: httpx.AsyncClient, world: World) -> None:
    # The parent's grant covers the child's demographics: no identifiers, no clinical lists.
    response = await export(client, world, "parent", "child")
    bundle = valid(response)
    assert redacted(bundle)
    (patient,) = by_type(bundle)["Patient"]
    assert (bundle["total"], redacted(patient)) == (1, True)
    assert patient["name"][0]["given"] == [CHILD["given_name"]]
    assert "identifier" not in patient
    assert CHILD["ssn"] not in response.text
    assert CHILD["mrn"] not in response.text
    accessed = await audited_fields(response.headers["x-request-id"])
    child = world.patients["child"]
    assert (child, "Patient.ssn", "fhir.ssn", "DENY") in accessed
    assert (child, "Patient.diagnoses", "fhir.diagnoses", "DENY") in accessed
    assert (child, "Patient.givenName", "fhir.givenName", "ALLOW") in accessed


@pytest.mark.parametrize(
    ("user", "types", "ssn", "birth_date"),
    [
        ("doc", EVERY_TYPE, True, True),
        # Masked values are withheld: a masked SSN is no identifier, a year no birth date.
        ("nurse", EVERY_TYPE, False, False),
        ("desk", {"Patient", "Encounter"}, False, True),
        ("billing", {"Patient", "Encounter", "Condition"}, True, True),
    ],
)
async def test_staff_export_with_their_role_decisions(
    client: httpx.AsyncClient,
    world: World,
    user: str,
    types: set[str],
    ssn: bool,
    birth_date: bool,
) -> None:
    response = await export(client, world, user, "own")
    bundle = valid(response)
    found = by_type(bundle)
    assert set(found) == types
    (patient,) = found["Patient"]
    assert (OWN["ssn"] in response.text, "birthDate" in patient) == (ssn, birth_date)
    assert "***" not in response.text  # no masked form is sent as a value
    full = user == "doc"
    assert redacted(bundle) is not full
    assert redacted(patient) is not (ssn and birth_date)
    if user == "desk":
        # The front desk sees the visit's date but not its kind (a clinical fact).
        (encounter,) = found["Encounter"]
        assert encounter["class"]["extension"][0]["valueCode"] == "masked"
        assert encounter["period"]["start"] == CLINICAL["encounter"]["start_date"]
        assert redacted(encounter)
        assert CLINICAL["diagnosis"]["code"] not in response.text


async def test_a_staff_export_is_in_the_patients_access_log(
    client: httpx.AsyncClient, world: World
) -> None:
    valid(await export(client, world, "doc", "own"))
    body = (await gql(client, ACCESS_LOG, as_user="alice")).json()
    (entry,) = [edge["node"] for edge in body["data"]["myAccessLog"]["edges"]]
    doc = await User.get(username="doc")
    assert (entry["actor"], entry["role"], entry["action"]) == (
        doc.public_id,
        "physician",
        "PHI_ACCESS",
    )
    assert {"Patient.ssn", "Observation.value", "ClinicalNote.text"} <= set(entry["fields"])


async def test_a_patients_own_download_is_not_listed_as_a_disclosure(
    client: httpx.AsyncClient, world: World
) -> None:
    valid(await export(client, world, "alice", "own"))
    body = (await gql(client, ACCESS_LOG, as_user="alice")).json()
    assert body["data"]["myAccessLog"]["edges"] == []


async def test_outside_the_callers_rows_is_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    """Exactly like a record that does not exist: same status, same outcome, no value."""
    hidden = await export(client, world, "doc", "other")
    made_up = await client.get("/fhir/Patient/pat.nobody/$everything", headers={AS_USER: "doc"})
    proxy = await export(client, world, "parent", "own")
    for response in (hidden, made_up, proxy):
        assert refused(response, 404, "not-found").startswith("Not found (request ")
    assert OTHER["given_name"] not in hidden.text
    assert await AuditEvent.filter(request_id=hidden.headers["x-request-id"]).count() == 0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The front desk may read one patient an hour (every test here exports one at most)."""
    budget = MappingProxyType({**EXPORT_BUDGET, Role.FRONT_DESK: 1})
    return replace(settings, safeguards=Safeguards(export_budget=budget))


async def test_an_export_past_the_budget_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    valid(await export(client, world, "desk", "own"))
    response = await export(client, world, "desk", "child")
    assert refused(response, 429, "throttled").startswith("Export budget exceeded")
    assert CHILD["given_name"] not in response.text
    assert CHILD["mrn"] not in response.text
    alert = await AuditEvent.get(event="EXPORT_BUDGET_EXCEEDED")
    assert alert.request_id == response.headers["x-request-id"]
    # The attempt itself is on record.
    assert await AuditEvent.filter(request_id=alert.request_id, event="PHI_ACCESS").exists()
