"""The client contract over HTTP: GraphQL-over-HTTP media types and status codes, request
errors in the one JSON shape, `myFieldAccess` agreeing with what reads actually return, 401
challenges (the CSRF token fetched again: tests/test_auth.py)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from api.graphql_media import GRAPHQL_RESPONSE, negotiate
from interchange.record import PATIENT_FIELDS
from schema.build import build_schema
from schema.inventory import PhiField, phi_fields
from tests.helpers import AS_USER, gql
from tests.world import OWN, World

GRAPHQL_JSON = {"accept": GRAPHQL_RESPONSE, AS_USER: "desk"}


def _only_error(response: httpx.Response) -> dict[str, object]:
    [error] = response.json()["errors"]
    extensions: dict[str, object] = error["extensions"]
    assert extensions["request_id"] == response.headers["x-request-id"]
    return extensions


async def test_graphql_response_json_status_codes(client: httpx.AsyncClient, world: World) -> None:
    own = world.patients["own"]
    partial = await client.post(
        "/graphql",
        json={"query": f'{{ patient(id: "{own}") {{ mrn diagnoses {{ code }} }} }}'},
        headers=GRAPHQL_JSON,
    )
    # Front desk may not read diagnoses: partial data, a FORBIDDEN error at the list, a 200.
    assert partial.status_code == 200
    assert partial.headers["content-type"] == GRAPHQL_RESPONSE
    body = partial.json()
    assert body["data"]["patient"]["mrn"] == OWN["mrn"]
    assert body["data"]["patient"]["diagnoses"] is None  # the list is guarded whole
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    invalid = await client.post(
        "/graphql", json={"query": "{ patientz { id } }"}, headers=GRAPHQL_JSON
    )
    # A request error: nothing ran, no `data`, a 4xx.
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == GRAPHQL_RESPONSE
    assert "data" not in invalid.json()
    assert _only_error(invalid)["code"] == "GRAPHQL_VALIDATION_FAILED"
    # The same request as application/json: a 200, as stock clients expect.
    legacy = await client.post(
        "/graphql", json={"query": "{ patientz { id } }"}, headers={AS_USER: "desk"}
    )
    assert legacy.status_code == 200
    assert legacy.headers["content-type"] == "application/json"
    assert legacy.json()["data"] is None


@pytest.mark.parametrize(
    ("method", "params", "body", "status", "reason"),
    [
        ("POST", None, {}, 400, "query_required"),
        ("POST", None, {"query": 5}, 400, "query_must_be_a_string"),
        ("POST", None, {"query": "{ __typename }", "variables": []}, 400,
         "variables_must_be_an_object"),
        ("POST", None, {"query": "{ __typename }", "extensions": [1]}, 400,
         "extensions_must_be_an_object"),
        ("POST", None, {"query": "query A { __typename }", "operationName": "Zed"}, 400,
         "operation_name_unknown"),
        ("GET", {"query": 'mutation { closeEmergencyAccess(grantId: "x") }'}, None, 405,
         "mutation_requires_post"),
        ("GET", {}, None, 400, "query_required"),
        ("PUT", None, None, 405, "method_not_allowed"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE])
async def test_request_errors_are_graphql_errors_never_plain_text(
    client: httpx.AsyncClient, world: World, method: str, params: dict[str, str] | None,
    body: dict[str, object] | None, status: int, reason: str, accept: str,
) -> None:  # fmt: skip
    response = await client.request(
        method, "/graphql", params=params, json=body, headers={AS_USER: "desk", "accept": accept}
    )
    assert response.status_code == status
    extensions = _only_error(response)
    assert extensions["reason"] == reason
    assert extensions["code"] == "BAD_REQUEST"
    if method != "PUT":  # routing answers before the endpoint negotiates
        assert response.headers["content-type"] == accept


async def test_an_unacceptable_accept_is_refused(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={AS_USER: "desk", "accept": "text/plain"},
    )
    assert response.status_code == 406
    assert _only_error(response)["reason"] == "not_acceptable"


def test_accept_negotiation() -> None:
    assert negotiate(None) == "application/json"
    assert negotiate("*/*") == "application/json"
    assert negotiate(f"{GRAPHQL_RESPONSE}, application/json;q=0.9") == GRAPHQL_RESPONSE
    assert negotiate(f"application/json, {GRAPHQL_RESPONSE};q=0.5") == "application/json"
    assert negotiate(f"{GRAPHQL_RESPONSE};q=0") is None
    assert negotiate("text/html") is None


async def test_unknown_paths_and_methods_answer_json(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"error": "not_found"})
    wrong = await client.get("/auth/login")
    assert (wrong.status_code, wrong.json()) == (405, {"error": "method_not_allowed"})
    assert wrong.headers["allow"] == "POST"
    oauth = await client.put("/oauth/token")
    assert oauth.json() == {"error": "invalid_request", "error_description": "method_not_allowed"}


FIELD_ACCESS = "{ myFieldAccess { typeName field category read report write } }"


@pytest.mark.parametrize("username", ["doc", "nurse", "desk", "alice"])
async def test_field_access_says_what_reads_and_writes_do(
    client: httpx.AsyncClient, world: World, username: str
) -> None:
    listed = (await gql(client, FIELD_ACCESS, as_user=username)).json()["data"]["myFieldAccess"]
    assert {(f["typeName"], f["field"]) for f in listed} == {
        tuple(field.coordinate.split(".")) for field in _phi_fields()
    }
    patient = {f["field"]: f for f in listed if f["typeName"] == "Patient"}
    query = f'{{ patient(id: "{world.patients["own"]}") {{ {" ".join(PATIENT_FIELDS)} }} }}'
    read = (await gql(client, query, as_user=username)).json()
    denied = {tuple(e["path"][1:]) for e in read.get("errors", [])}
    full = {name: OWN[_snake(name)] for name in PATIENT_FIELDS}
    for name in PATIENT_FIELDS:
        value, decision = read["data"]["patient"][name], patient[name]["read"]
        if decision == "DENY":
            assert (name,) in denied
            assert value is None
        elif decision == "MASK":
            assert value not in {None, full[name]}
        else:
            assert decision == "ALLOW"
            assert value == full[name]
    writes = {f["field"] for f in listed if f["typeName"] == "Patient" and f["write"]}
    assert writes == {
        "doc": set(), "nurse": set(), "alice": {"phone", "email", "street", "city", "zip"},
        "desk": set(PATIENT_FIELDS),
    }[username]  # fmt: skip
    if username == "nurse":
        assert patient["birthDate"]["read"] == "MASK"
        assert patient["ssn"]["read"] == "MASK"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def _phi_fields() -> list[PhiField]:
    return phi_fields(build_schema())


def test_schema_command_prints_the_sdl_with_phi_marks() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "schema"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == build_schema().as_str() + "\n"
    assert "birthDate: PartialDate @phi(category: DATE, mask: [NURSE])" in result.stdout
    assert 'scalar DateTime @specifiedBy(url: "https://scalars.graphql.org/' in result.stdout
    assert "myFieldAccess: [FieldAccess!]!" in result.stdout


async def test_401s_carry_a_bearer_challenge(session_client: httpx.AsyncClient) -> None:
    bare = 'Bearer realm="phigate"'
    invalid = 'Bearer realm="phigate", error="invalid_token", error_description="invalid_token"'
    for path in ("/auth/session", "/graphql"):
        missing = await session_client.get(path, params={"query": "{ __typename }"})
        assert (missing.status_code, missing.headers["www-authenticate"]) == (401, bare)
        wrong = await session_client.get(
            path, params={"query": "{ __typename }"}, headers={"authorization": "Bearer nope"}
        )
        assert (wrong.status_code, wrong.headers["www-authenticate"]) == (401, invalid)
    login = await session_client.post("/auth/login", json={"username": "x", "password": "y"})
    assert (login.status_code, login.headers["www-authenticate"]) == (401, bare)
