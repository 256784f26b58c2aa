"""SMART App Launch v2 scopes, end to end: a stock OAuth2 client (authlib's) through the real
app's authorization code + PKCE flow with `launch/patient`, `openid fhirUser` id_tokens, and
GraphQL reads decided by the same decision point as phigate scopes; both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette

from api.oauth.clients import ClientError, Grant
from api.oauth.smart_metadata import capability_security
from api.settings import Settings
from models import CareTeamAssignment, ClientAuthMethod, Patient, User
from permissions.roles import Category
from permissions.smart import (
    RESOURCE_CATEGORIES,
    Context,
    Permission,
    Resource,
    ScopeError,
    covers,
    resource_scope,
)
from tests.helpers import ManualClock
from tests.oauth_helpers import (
    AUTHORIZE_URL,
    BASE,
    PAGE,
    REDIRECT,
    TOKEN_URL,
    ask,
    forbidden_paths,
    partner,
    register,
)
from tests.test_auth import Staff
from tests.test_oauth import client_token, login
from tests.world import CLINICAL, OTHER, OWN, World

CHART = """query($id: ID!) {
  patient(id: $id) { givenName birthDate mrn ssn diagnoses { code } observations { code value } }
}"""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, oauth_issuer=BASE)


# --- the grammar and the mapping (policy data) ----------------------------------------------


def test_resource_scopes_parse_v2_letters_and_v1_words() -> None:
    observation = resource_scope("patient/Observation.rs")
    assert observation is not None
    assert observation.context is Context.PATIENT
    assert observation.resources == {Resource.OBSERVATION}
    assert observation.permissions == {Permission.READ, Permission.SEARCH}
    assert resource_scope("user/Condition.read") == resource_scope("user/Condition.rs")
    everything = resource_scope("system/*.s")
    assert everything is not None
    assert everything.resources == frozenset(Resource)
    assert everything.categories() == frozenset(Category) - {Category.SSN}
    assert resource_scope("phi.clinical") is None
    assert covers(["patient/*.rs"], "patient/Observation.r")
    assert not covers(["patient/Observation.r"], "patient/Observation.rs")
    assert not covers(["user/Observation.rs"], "patient/Observation.rs")


@pytest.mark.parametrize(
    ("scope", "why"),
    [
        ("patient/Observation.cruds", "only r (read) and s (search)"),
        ("patient/Observation.write", "only r (read) and s (search)"),
        ("user/Condition.rd", "only r (read) and s (search)"),
        ("patient/Observation.sr", "letters of 'cruds' in that order"),
        ("patient/Observation.rrs", "letters of 'cruds' in that order"),
        ("patient/MedicationRequest.rs", "no MedicationRequest resources"),
        ("patient/Observation.rs?category=laboratory", "search parameters"),
    ],
)
def test_scopes_that_cannot_be_granted_say_why(scope: str, why: str) -> None:
    with pytest.raises(ScopeError, match=why.replace("(", r"\(").replace(")", r"\)")):
        resource_scope(scope)


def test_dates_come_only_with_patient_and_encounter() -> None:
    """DATE opens birth dates too: a clinical resource's scope does not carry it."""
    with_dates = {r for r, cats in RESOURCE_CATEGORIES.items() if Category.DATE in cats}
    assert with_dates == {Resource.PATIENT, Resource.ENCOUNTER}
    assert RESOURCE_CATEGORIES[Resource.OBSERVATION] == {Category.LAB}
    assert RESOURCE_CATEGORIES[Resource.CONDITION] == {Category.DIAGNOSIS}


# --- discovery ------------------------------------------------------------------------------


async def test_smart_configuration_lists_what_is_supported(
    session_client: httpx.AsyncClient,
) -> None:
    response = await session_client.get("/.well-known/smart-configuration")
    assert response.status_code == 200
    config = response.json()
    assert config["issuer"] == BASE
    assert config["authorization_endpoint"] == f"{BASE}/oauth/authorize"
    assert config["token_endpoint"] == f"{BASE}/oauth/token"
    assert config["jwks_uri"] == f"{BASE}/.well-known/jwks.json"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["response_types_supported"] == ["code"]
    assert set(config["grant_types_supported"]) == {
        "authorization_code", "client_credentials", "refresh_token"
    }  # fmt: skip
    assert {"launch-standalone", "context-standalone-patient", "client-public",
            "client-confidential-symmetric", "permission-v2"} <= set(
        config["capabilities"]
    )  # fmt: skip
    # Not offered, so not claimed.
    assert not {"launch-ehr", "context-ehr-patient", "client-confidential-asymmetric"} & set(
        config["capabilities"]
    )
    assert {"patient/Observation.rs", "user/Condition.rs", "system/Patient.rs", "launch/patient",
            "openid", "fhirUser", "patient.read"} <= set(config["scopes_supported"])  # fmt: skip
    server = (await session_client.get("/.well-known/oauth-authorization-server")).json()
    assert set(server["scopes_supported"]) == set(config["scopes_supported"])
    # The configuration names only endpoints that answer.
    jwks = await session_client.get(urlsplit(config["jwks_uri"]).path)
    assert jwks.status_code == 200


def test_capability_statement_security() -> None:
    security = capability_security(BASE)
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = security["extension"][0]
    assert uris["url"].endswith("/StructureDefinition/oauth-uris")
    named = {item["url"]: item["valueUri"] for item in uris["extension"]}
    assert named["authorize"] == f"{BASE}/oauth/authorize"
    assert named["token"] == f"{BASE}/oauth/token"


# --- standalone launch: authorization code + PKCE with launch/patient -------------------------


class SmartApp:
    """A SMART app (authlib's stock client) and the consenting user's browser."""

    def __init__(
        self, app: Starlette, browser: httpx.AsyncClient, client_id: str, scope: str, session: str
    ) -> None:
        self.oauth: AsyncOAuth2Client = partner(
            app, client_id, None, redirect_uri=REDIRECT, code_challenge_method="S256",
            scope=scope,
        )  # fmt: skip
        self.browser = browser
        self.session = {"authorization": f"Bearer {session}"}

    async def consent(self, nonce: str) -> tuple[dict[str, Any], dict[str, str], str]:
        """(the consent request as the user's screen gets it, its parameters, the verifier)"""
        verifier = generate_token(48)
        url, _ = self.oauth.create_authorization_url(
            AUTHORIZE_URL, code_verifier=verifier, nonce=nonce
        )
        page = await self.browser.get(url.removeprefix(BASE), headers=self.session)
        assert page.status_code == 200, page.text
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        return page.json(), params, verifier

    async def decide(self, params: dict[str, str], **extra: str) -> httpx.Response:
        body = {**params, "decision": "approve", **extra}
        return await self.browser.post("/oauth/authorize", json=body, headers=self.session)

    async def launch(self, patient: str, nonce: str = "n-0S6_WzA2Mj") -> dict[str, Any]:
        """The token response after the user picked `patient` on the consent screen."""
        _, params, verifier = await self.consent(nonce)
        decided = await self.decide(params, patient=patient)
        assert decided.status_code == 302, decided.text
        token: dict[str, Any] = await self.oauth.fetch_token(
            TOKEN_URL, authorization_response=decided.headers["location"], code_verifier=verifier
        )
        return token


async def smart_app(
    session_app: Starlette, session_client: httpx.AsyncClient, clock: ManualClock, scope: str,
    session: str,
) -> SmartApp:  # fmt: skip
    created = await register(clock, scope, grant=Grant.AUTHORIZATION_CODE,
                             auth_method=ClientAuthMethod.NONE)  # fmt: skip
    return SmartApp(session_app, session_client, created.client.public_id, scope, session)


@pytest.fixture
async def doctor(
    session_client: httpx.AsyncClient, session_world: World, oathtool: str, clock: ManualClock
) -> str:
    """The physician's session; their care team now holds 'own' and 'other'."""
    doc = await User.get(username="doc")
    other = session_world.patients["other"]
    await CareTeamAssignment.create(
        user=doc, patient=await Patient.get(public_id=other), patient_public_id=other
    )
    enrolled = await Staff(session_client, oathtool, clock).enrol("doc")
    token: str = enrolled["token"]
    return token


async def id_claims(http: httpx.AsyncClient, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set((await http.get("/.well-known/jwks.json")).json())
    return dict(jwt.decode(id_token, keys, algorithms=["ES256"]).claims)


@pytest.fixture
async def launched(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock, doctor: str,
) -> AsyncIterator[SmartApp]:  # fmt: skip
    scope = "launch/patient openid fhirUser patient/Observation.rs"
    app = await smart_app(session_app, session_client, clock, scope, doctor)
    async with app.oauth:
        yield app


async def test_a_patient_scope_sees_the_launch_patients_labs_and_nothing_else(
    launched: SmartApp, session_client: httpx.AsyncClient, session_world: World
) -> None:
    own, other = session_world.patients["own"], session_world.patients["other"]
    screen, _, _ = await launched.consent("n-1")
    # The physician may pick either patient of their care team.
    assert set(screen["launch"]["patients"]) == {own, other}
    assert "patient/Observation.rs" in screen["scopes"]
    token = await launched.launch(own)
    assert token["patient"] == own
    assert set(token["scope"].split()) == {
        "launch/patient", "openid", "fhirUser", "patient/Observation.rs"
    }  # fmt: skip
    doc = await User.get(username="doc")
    claims = await id_claims(session_client, token["id_token"])
    assert claims["sub"] == doc.public_id
    assert claims["aud"] == launched.oauth.client_id
    assert claims["iss"] == BASE
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["fhirUser"] == f"{BASE}/fhir/Practitioner/{doc.public_id}"

    access = token["access_token"]
    body = (await ask(session_client, access, CHART, id=own)).json()
    assert body["data"]["patient"]["observations"] == [
        {"code": "4548-4", "value": CLINICAL["observation"]["value"]}
    ]
    # The physician reads everything of this patient in a session; the scope opens LAB only.
    assert forbidden_paths(body) == {
        "patient.givenName", "patient.birthDate", "patient.mrn", "patient.ssn",
        "patient.diagnoses",
    }  # fmt: skip
    # The care team's other patient is not there at all for this token.
    elsewhere = (await ask(session_client, access, CHART, id=other)).json()
    assert elsewhere["data"] == {"patient": None}
    assert elsewhere["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    page = (await ask(session_client, access, PAGE)).json()
    assert page == {"data": {"patients": {"totalCount": 1}}}

    # A refreshed token keeps the launch patient, and its confinement.
    refreshed = await launched.oauth.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    assert refreshed["patient"] == own
    again = (await ask(session_client, refreshed["access_token"], CHART, id=other)).json()
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_launch_patient_must_be_one_of_the_users_rows(
    launched: SmartApp, session_world: World
) -> None:
    _, params, _ = await launched.consent("n-2")
    # The browser's consent page offers the same patients, by id, and says what is read.
    page = await launched.browser.get(
        "/oauth/authorize", params=params, headers={**launched.session, "accept": "text/html"}
    )
    assert page.status_code == 200
    assert '<select name="patient" required>' in page.text
    for name in ("own", "other"):
        patient = session_world.patients[name]
        assert f'<option value="{patient}">{patient}</option>' in page.text
    assert "Read Observation records of the patient you pick" in page.text
    assert OWN["given_name"] not in page.text
    for extra, reason in (
        ({}, "launch_patient_required"),
        ({"patient": session_world.patients["child"]}, "launch_patient_not_found"),
        ({"patient": "pat_doesnotexist"}, "launch_patient_not_found"),
    ):
        refused = await launched.decide(params, **extra)
        assert refused.status_code == 400
        assert refused.json() == {"error": "invalid_request", "error_description": reason}


async def test_patients_launch_with_themselves_or_their_proxy_grants(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    scope = "launch/patient openid fhirUser patient/Patient.rs"
    for username, patient, fhir_user in (
        ("alice", "own", f"Patient/{session_world.patients['own']}"),
        ("parent", "child", "RelatedPerson/{user}"),
    ):
        session = await login(session_client, username)
        app = await smart_app(session_app, session_client, clock, scope, session)
        async with app.oauth:
            screen, _, _ = await app.consent("n-3")
            assert screen["launch"]["patients"] == [session_world.patients[patient]]
            token = await app.launch(session_world.patients[patient])
        user = await User.get(username=username)
        claims = await id_claims(session_client, token["id_token"])
        assert claims["fhirUser"] == f"{BASE}/fhir/" + fhir_user.format(user=user.public_id)
        body = (
            await ask(session_client, token["access_token"], CHART,
                      id=session_world.patients[patient])
        ).json()  # fmt: skip
        assert body["data"]["patient"]["givenName"] is not None
        assert "patient.ssn" in forbidden_paths(body)  # Patient.rs opens no SSN


async def test_a_user_scope_reads_the_users_rows_of_its_resource_only(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock, doctor: str,
) -> None:  # fmt: skip
    app = await smart_app(session_app, session_client, clock, "user/Condition.rs", doctor)
    async with app.oauth:
        screen, params, verifier = await app.consent("n-4")
        assert "launch" not in screen
        refused = await app.decide(params, patient=session_world.patients["own"])
        assert refused.json()["error_description"] == "patient_given_without_launch_patient"
        decided = await app.decide(params)
        token = await app.oauth.fetch_token(
            TOKEN_URL, authorization_response=decided.headers["location"], code_verifier=verifier
        )
    assert "patient" not in token
    assert "id_token" not in token
    access = token["access_token"]
    body = (await ask(session_client, access, CHART, id=session_world.patients["own"])).json()
    assert body["data"]["patient"]["diagnoses"] == [{"code": "E11.9"}]
    assert forbidden_paths(body) == {
        "patient.givenName", "patient.birthDate", "patient.mrn", "patient.ssn",
        "patient.observations",
    }  # fmt: skip
    # Every patient of the user's rows, not one: the care team's two.
    page = (await ask(session_client, access, PAGE)).json()
    assert page == {"data": {"patients": {"totalCount": 2}}}
    outside = (await ask(session_client, access, CHART, id=session_world.patients["child"])).json()
    assert outside["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# --- backend services: system/ scopes by client_credentials -----------------------------------


async def test_a_system_scope_reads_the_clients_organization(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    created = await register(clock, "system/Patient.rs system/Observation.rs")
    token = await client_token(session_app, created)
    page = (await ask(session_client, token, PAGE)).json()
    assert page == {"data": {"patients": {"totalCount": 3}}}
    body = (await ask(session_client, token, CHART, id=session_world.patients["other"])).json()
    patient = body["data"]["patient"]
    assert (patient["givenName"], patient["mrn"]) == (OTHER["given_name"], OTHER["mrn"])
    # billing (the client's role) reads SSN and diagnoses; Patient.rs opens neither; billing's
    # own policy denies labs, whatever Observation.rs says.
    assert forbidden_paths(body) == {"patient.ssn", "patient.diagnoses", "patient.observations"}
    own = (await ask(session_client, token, CHART, id=session_world.patients["own"])).json()
    assert own["data"]["patient"]["birthDate"] == OWN["birth_date"]


async def test_scopes_outside_their_context_or_grammar_are_refused_cleanly(
    session_app: Starlette, clock: ManualClock, session_world: World
) -> None:
    for scope, grant, why in (
        ("patient/Observation.rs launch/patient", Grant.CLIENT_CREDENTIALS, "need a user"),
        ("user/Condition.rs", Grant.CLIENT_CREDENTIALS, "need a user"),
        ("system/Patient.rs", Grant.AUTHORIZATION_CODE, "client acting for itself"),
        ("patient/Observation.rs", Grant.AUTHORIZATION_CODE, "need launch/patient"),
        ("fhirUser", Grant.AUTHORIZATION_CODE, "fhirUser needs openid"),
        ("system/Observation.cruds", Grant.CLIENT_CREDENTIALS, "access is read-only"),
        ("system/observation.rs", Grant.CLIENT_CREDENTIALS, "not a SMART scope"),
    ):
        with pytest.raises(ClientError, match=why):
            await register(clock, scope, grant=grant)
    # At the token endpoint, the same grammar: the refusal names the scope and why.
    created = await register(clock, "system/Patient.rs")
    assert created.secret is not None
    async with partner(session_app, created.client.public_id, created.secret) as oauth:
        refusals: list[tuple[str, str | None]] = [
            ("system/Patient.cruds", "system/Patient.cruds: only r (read) and s (search)"),
            ("system/Patient.rs?name=x", "search parameters are not supported"),
            ("system/Observation.rs", None),  # valid, but not registered for
            ("bogus", "bogus: not a phigate or SMART scope"),
        ]
        for asked, reason in refusals:
            with pytest.raises(OAuthError) as refused:
                await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials", scope=asked)
            assert refused.value.error == "invalid_scope"
            if reason is not None:
                assert reason in str(refused.value.description)
        narrower = await oauth.fetch_token(
            TOKEN_URL, grant_type="client_credentials", scope="system/Patient.r"
        )
        assert narrower["scope"] == "system/Patient.r"
