"""The read-only FHIR facade under /fhir: metadata, Patient read, search by patient; decided,
audited and refused as GraphQL is, every answer valid FHIR; and the stock SMART on FHIR client
(fhirclient) reading through a real server with an OAuth2 bearer token."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from fhirclient.auth import FHIROAuth2Auth
from fhirclient.client import FHIRClient
from fhirclient.models.condition import Condition
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient
from starlette.applications import Starlette

from api.settings import Settings
from interchange.outbound import fhir_id
from interchange.record import PATIENT_FIELDS
from models import AuditEvent
from permissions.roles import Role
from tests.fhir_checks import redacted, refused, valid
from tests.helpers import AS_USER, ManualClock, audited_fields, gql
from tests.live import live_server
from tests.oauth_helpers import BASE, register
from tests.test_oauth import client_token
from tests.world import CLINICAL, OTHER, OWN, World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Tokens issued in process name the test client's base URL (tests/oauth_helpers.py)."""
    return replace(settings, oauth_issuer=BASE)


def own(world: World) -> str:
    return fhir_id(world.patients["own"])


async def get(client: httpx.AsyncClient, path: str, user: str | None = "doc") -> httpx.Response:
    return await client.get(path, headers={} if user is None else {AS_USER: user})


async def test_metadata_needs_no_sign_in(client: httpx.AsyncClient) -> None:
    statement = valid(await get(client, "/fhir/metadata", user=None))
    assert (statement["resourceType"], statement["fhirVersion"]) == ("CapabilityStatement", "4.0.1")
    (rest,) = statement["rest"]
    assert rest["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    # SMART clients (fhirclient among them) find the OAuth2 endpoints here.
    (uris,) = rest["security"]["extension"]
    endpoints = {e["url"]: e["valueUri"] for e in uris["extension"]}
    assert endpoints["token"].endswith("/oauth/token")
    assert endpoints["authorize"].endswith("/oauth/authorize")
    searched = {r["type"]: {p["name"] for p in r.get("searchParam", [])} for r in rest["resource"]}
    assert searched == {
        "Patient": set(),
        "Condition": {"patient"},
        "Observation": {"patient", "code"},
        "Encounter": {"patient"},
        "DocumentReference": {"patient"},
    }


async def test_patient_read_applies_the_role_and_records_as_graphql_does(
    client: httpx.AsyncClient, world: World
) -> None:
    full = valid(await get(client, f"/fhir/Patient/{own(world)}"))
    assert {i["value"] for i in full["identifier"]} == {OWN["mrn"], OWN["ssn"]}
    assert full["gender"] == OWN["gender"]
    assert not redacted(full)
    # The GraphQL id is accepted too; the nurse's masked SSN and birth date are left out.
    response = await get(client, f"/fhir/Patient/{world.patients['own']}", user="nurse")
    nurse = valid(response)
    assert redacted(nurse)
    assert [i["value"] for i in nurse["identifier"]] == [OWN["mrn"]]
    assert "birthDate" not in nurse
    assert OWN["ssn"][-4:] not in response.text

    # The same records a GraphQL read of the same fields makes, under the `fhir` path.
    fhir = await audited_fields(response.headers["x-request-id"])
    fields = " ".join(PATIENT_FIELDS)
    query = f"query($id: ID!) {{ fhir: patient(id: $id) {{ id {fields} }} }}"
    graphql = await gql(client, query, {"id": world.patients["own"]}, as_user="nurse")
    assert fhir == await audited_fields(graphql.headers["x-request-id"])
    assert (world.patients["own"], "Patient.ssn", "fhir.ssn", "MASK") in fhir


async def test_searches_by_patient(client: httpx.AsyncClient, world: World) -> None:
    patient = own(world)
    for name, types in (("Condition", 1), ("Observation", 1), ("Encounter", 1)):
        bundle = valid(await get(client, f"/fhir/{name}?patient={patient}"))
        assert (bundle["type"], bundle["total"]) == ("searchset", types)
        (entry,) = bundle["entry"]
        assert entry["resource"]["resourceType"] == name
        assert entry["fullUrl"].endswith(f"/fhir/{name}/{entry['resource']['id']}")
    notes = valid(await get(client, f"/fhir/DocumentReference?patient=Patient/{patient}"))
    assert notes["total"] == 1
    (condition,) = valid(await get(client, f"/fhir/Condition?patient={patient}"))["entry"]
    assert condition["resource"]["code"]["coding"][0]["code"] == CLINICAL["diagnosis"]["code"]

    for code, total in (("4548-4", 1), ("http://loinc.org|4548-4", 1), ("2345-7,4548-4", 1),
                        ("2345-7", 0), ("http://snomed.info/sct|4548-4", 0)):  # fmt: skip
        path = f"/fhir/Observation?patient={patient}&code={code}"
        assert valid(await get(client, path))["total"] == total, code


async def test_a_list_the_role_may_not_read_is_forbidden_not_empty(
    client: httpx.AsyncClient, world: World
) -> None:
    """An empty searchset would say there are none; the front desk may not know either way."""
    response = await get(client, f"/fhir/Condition?patient={own(world)}", user="desk")
    assert refused(response, 403, "forbidden").startswith("Not permitted to read Condition")
    assert CLINICAL["diagnosis"]["code"] not in response.text
    accessed = await audited_fields(response.headers["x-request-id"])
    assert accessed == [(world.patients["own"], "Patient.diagnoses", "fhir.diagnoses", "DENY")]
    # Encounters are listed, their kind (a clinical fact) left out and labelled.
    encounters = valid(await get(client, f"/fhir/Encounter?patient={own(world)}", user="desk"))
    assert redacted(encounters)
    assert redacted(encounters["entry"][0]["resource"])


async def test_outside_the_rows_is_not_found_like_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    other = fhir_id(world.patients["other"])
    answers = [
        await get(client, f"/fhir/Patient/{other}"),
        await get(client, f"/fhir/Observation?patient={other}"),
        await get(client, "/fhir/Patient/pat.doesNotExist"),
        await get(client, f"/fhir/Patient/{OTHER['ssn']}"),
    ]
    for response in answers:
        assert refused(response, 404, "not-found").startswith("Not found (request ")
        assert OTHER["family_name"] not in response.text
        assert OTHER["ssn"] not in response.text


async def test_bad_requests_get_an_outcome_that_echoes_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    patient = own(world)
    secret = OWN["ssn"]
    cases = [
        (f"/fhir/Observation?patient={patient}&family={secret}", 400, "not-supported"),
        (f"/fhir/Observation?patient={patient}&{secret}=1", 400, "not-supported"),
        ("/fhir/Condition", 400, "required"),
        (f"/fhir/Condition?patient={patient}&patient={patient}", 400, "invalid"),
        ("/fhir/Condition?patient=", 400, "invalid"),
        (f"/fhir/Patient/{patient}?_format=xml", 406, "not-supported"),
        (f"/fhir/Patient/{patient}/$everything?_since={secret}", 400, "not-supported"),
        (f"/fhir/MedicationRequest?patient={patient}", 404, "not-supported"),
        (f"/fhir/Patient/{patient}/$export", 404, "not-supported"),
    ]
    for path, status, code in cases:
        response = await get(client, path)
        refused(response, status, code)
        assert secret not in response.text, path
        assert "Traceback" not in response.text
    # Nothing was read for any of them.
    assert await AuditEvent.filter(event="PHI_ACCESS").count() == 0


async def test_unauthenticated_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await get(client, f"/fhir/Patient/{own(world)}", user=None)
    assert refused(response, 401, "login").startswith("Authentication required")
    assert response.headers["www-authenticate"] == 'Bearer realm="phigate"'


async def test_a_bearer_token_reads_within_its_scopes(
    session_app: Starlette,
    session_client: httpx.AsyncClient,
    session_world: World,
    clock: ManualClock,
) -> None:
    created = await register(clock, "patient.read phi.demographics", role=Role.PHYSICIAN)
    token = await client_token(session_app, created)
    auth = {"authorization": f"Bearer {token}"}
    path = f"/fhir/Patient/{own(session_world)}"
    patient = valid(await session_client.get(path, headers=auth))
    assert patient["name"][0]["family"] == OWN["family_name"]
    assert "identifier" not in patient
    assert redacted(patient)
    conditions = await session_client.get(
        f"/fhir/Condition?patient={own(session_world)}", headers=auth
    )
    refused(conditions, 403, "forbidden")
    revoked = await session_client.get(path, headers={"authorization": "Bearer x.y.z"})
    refused(revoked, 401, "login")


async def test_fhirclient_reads_through_a_live_server(
    session_app: Starlette,
    session_world: World,
    clock: ManualClock,
    database_url: str,
    master_key: str,
    tmp_path: Path,
) -> None:
    """The stock SMART on FHIR client, over TLS, with a token from the server's own OAuth2
    token endpoint (client_credentials, phigate scopes)."""
    scopes = "patient.read phi.demographics phi.identifiers phi.clinical"
    created = await register(clock, scopes, role=Role.PHYSICIAN)
    env = {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key}
    data_dir = tmp_path / "live"
    data_dir.mkdir()
    with live_server(env, data_dir) as server:
        tls = ssl.create_default_context(cafile=server.cert)
        with OAuth2Client(
            created.client.public_id, created.secret, scope=scopes, verify=tls
        ) as oauth:
            token = oauth.fetch_token(f"{server.url}/oauth/token", grant_type="client_credentials")
        smart = FHIRClient(settings={"app_id": "phigate-tests", "api_base": f"{server.url}/fhir/"})
        # The server's own certificate, not a CA bundle the environment may name.
        smart.server.session.trust_env = False
        smart.server.session.verify = str(server.cert)
        smart.prepare()
        assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
        smart.server.auth = FHIROAuth2Auth(state={"access_token": token["access_token"]})

        patient_id = own(session_world)
        patient = Patient.read(patient_id, smart.server)
        assert patient.name[0].family == OWN["family_name"]
        assert {i.value for i in patient.identifier} == {OWN["mrn"], OWN["ssn"]}
        assert patient.birthDate.isostring == OWN["birth_date"]
        assert patient.gender == OWN["gender"]
        conditions = Condition.where(struct={"patient": patient_id}).perform_resources(smart.server)
        assert [c.code.coding[0].code for c in conditions] == [CLINICAL["diagnosis"]["code"]]
        search = Observation.where(struct={"patient": patient_id, "code": "4548-4"})
        (observation,) = list(search.perform_resources_iter(smart.server))
        assert observation.valueQuantity.value == float(CLINICAL["observation"]["value"])
        assert observation.valueQuantity.unit == CLINICAL["observation"]["unit"]
    assert "Traceback" not in server.output
    # The client's reads are on record as its own.
    actors = await AuditEvent.filter(event="PHI_ACCESS").values_list("actor", flat=True)
    assert set(actors) == {created.client.public_id}
