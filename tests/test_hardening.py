"""Abuse limits, production mode, and faults: each answered by a clear error, never a 500,
never data that should have been withheld."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.settings import Environment, Settings
from crypto.keyring import Keyring
from schema.limits import Limits
from tests.conftest import https_client, running
from tests.helpers import AS_USER, TestAuthenticator, gql
from tests.world import OWN, World, build_world


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    """The app with small limits, so each one can be reached by a valid query."""
    small = Limits(
        max_depth=2, max_aliases=2, max_tokens=60, max_directives_per_field=1, max_cost=150
    )
    app = create_app(replace(settings, limits=small), authenticate=TestAuthenticator())
    async with running(app), https_client(app) as http:
        yield http, await build_world(app.state.keyring)


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"].get("code", "") for e in response.json().get("errors", [])]


async def test_depth_limit(limited: tuple[httpx.AsyncClient, World]) -> None:
    client, _ = limited
    response = await gql(client, "{ patients { edges { node { id } } } }", as_user="desk")
    assert response.json()["data"] is None
    assert "exceeds maximum operation depth of 2" in response.json()["errors"][0]["message"]


async def test_alias_limit(limited: tuple[httpx.AsyncClient, World]) -> None:
    client, _ = limited
    query = "{ a: patients { totalCount } b: patients { totalCount } c: patients { totalCount } }"
    response = await gql(client, query, as_user="desk")
    assert response.json()["data"] is None
    assert "aliases" in response.json()["errors"][0]["message"]


async def test_token_limit(limited: tuple[httpx.AsyncClient, World]) -> None:
    client, _ = limited
    response = await gql(client, "{ " + "__typename " * 70 + "}", as_user="desk")
    assert response.json()["data"] is None
    assert "more than 60 tokens" in response.json()["errors"][0]["message"]


async def test_directives_per_field_limit(limited: tuple[httpx.AsyncClient, World]) -> None:
    client, _ = limited
    query = "{ patients { totalCount @include(if: true) @skip(if: false) } }"
    response = await gql(client, query, as_user="desk")
    assert codes(response) == ["TOO_MANY_DIRECTIVES"]


async def test_a_document_is_judged_the_same_every_time_it_comes_back(
    limited: tuple[httpx.AsyncClient, World],
) -> None:
    """Documents are parsed and validated once (schema/documents.py): a refused one is refused
    again, each time with the asking request's id, and a valid one keeps working."""
    client, _ = limited
    refused = {
        "{ patients { edges { node { encounters { id } } } } }": "maximum operation depth",
        "{ " + "__typename " * 70 + "}": "more than 60 tokens",
        "{ patients { totalCount @include(if: true) @skip(if: false) } }": "directives",
    }
    for _ in range(2):
        for query, reason in refused.items():
            response = await gql(client, query, as_user="desk")
            error = response.json()["errors"][0]
            assert response.json()["data"] is None
            assert reason in error["message"]
            assert error["extensions"]["request_id"] == response.headers["x-request-id"]
        served = await gql(client, "{ patients { totalCount } }", as_user="desk")
        assert served.json() == {"data": {"patients": {"totalCount": 3}}}


@pytest.mark.parametrize("value", ["abc", None, [1], {"a": 1}, True, 2.5, 10**30])
async def test_a_variable_of_the_wrong_type_is_refused_by_name(
    client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture, value: object
) -> None:
    """Refused as the client's mistake, naming the variable: not an internal error, not a
    Python message (the cost limit reads page sizes from variables before graphql-core has
    checked them), and nothing logged as a fault."""
    query = "query($n: Int!) { patients(first: $n) { totalCount } }"
    response = await gql(client, query, {"n": value}, as_user="desk")
    [error] = response.json()["errors"]
    assert response.json()["data"] is None
    assert error["message"].startswith("Variable '$n' has invalid value: ")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "int()" not in error["message"]
    assert not [r for r in caplog.records if r.name == "phigate.graphql"]


async def test_cost_limit_multiplies_page_sizes(limited: tuple[httpx.AsyncClient, World]) -> None:
    client, _ = limited
    page = "patients(first: $n) { edges { cursor } }"
    query = f"query($n: Int!) {{ a: {page} b: {page} }}"  # 2 x (2 + n)
    small = await gql(client, query, {"n": 50}, as_user="desk")
    assert "errors" not in small.json()
    large = await gql(client, query, {"n": 100}, as_user="desk")
    assert large.json()["data"] is None
    assert codes(large) == ["QUERY_TOO_COSTLY"]
    assert "cost 204 exceeds the limit of 150" in large.json()["errors"][0]["message"]


async def test_body_size_limit(client: httpx.AsyncClient, world: World) -> None:
    padding = " " * (64 * 1024)
    response = await client.post(
        "/graphql",
        json={"query": "{ patients { totalCount } }" + padding},
        headers={AS_USER: "desk"},
    )
    assert (response.status_code, response.json()["error"]) == (413, "body_too_large")


async def test_post_must_be_json_and_get_serves_queries(
    client: httpx.AsyncClient, world: World
) -> None:
    form = await client.post(
        "/graphql", data={"query": "{ patients { totalCount } }"}, headers={AS_USER: "desk"}
    )
    assert form.status_code == 415
    assert form.json()["errors"][0]["extensions"]["reason"] == "content_type_must_be_json"
    get = await client.get(
        "/graphql", params={"query": "{ patients { totalCount } }"}, headers={AS_USER: "desk"}
    )
    assert get.json() == {"data": {"patients": {"totalCount": 3}}}


async def test_production_has_no_introspection_or_suggestions(
    client: httpx.AsyncClient, world: World
) -> None:
    introspection = await gql(client, "{ __schema { types { name } } }", as_user="desk")
    assert introspection.json()["data"] is None
    assert "introspection" in introspection.json()["errors"][0]["message"].lower()
    typo = await gql(client, "{ patientz { totalCount } }", as_user="desk")
    message = typo.json()["errors"][0]["message"]
    assert "Cannot query field 'patientz'" in message
    assert "Did you mean" not in message
    assert typo.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert typo.json()["errors"][0]["extensions"]["request_id"] == typo.headers["x-request-id"]


# Every kind of "did you mean": (query, variables, who asks, what development suggests).
MISTAKES = {
    "field": ("{ patientz { totalCount } }", {}, "desk", "Did you mean 'patient' or 'patients'?"),
    "argument": ("{ patients(firts: 1) { totalCount } }", {}, "desk", "Did you mean 'first'?"),
    "directive_argument": (
        "{ patients { totalCount @include(iff: true) } }", {}, "desk", "Did you mean 'if'?",
    ),
    "fragment_type": (
        "{ patients { edges { node { ... on Patiet { id } } } } }", {}, "desk",
        "Did you mean 'Patient'?",
    ),
    "variable_type": (
        "query($n: Itn!) { patients(first: $n) { totalCount } }", {"n": 1}, "desk",
        "Did you mean 'Int' or 'ID'?",
    ),
    "enum_value": (
        "{ report { aggregate(by: [ZIP]) { suppressed } } }", {}, "rae",
        "Did you mean the enum value 'ZIP3'?",
    ),
    "enum_value_in_a_variable": (
        "query($by: [ReportDimension!]!) { report { aggregate(by: $by) { suppressed } } }",
        {"by": ["ZIP"]}, "rae", "Did you mean the enum value 'ZIP3'?",
    ),
    "input_field": (
        '{ auditEvents(filter: {actr: "x"}) { pageInfo { hasNextPage } } }', {}, "auditor",
        "Did you mean 'actor'?",
    ),
    "input_field_in_a_variable": (
        "query($f: AuditFilter) { auditEvents(filter: $f) { pageInfo { hasNextPage } } }",
        {"f": {"actr": "x"}}, "auditor", "Did you mean 'actor'?",
    ),
    "enum_value_in_an_input_variable": (
        "query($f: AuditFilter) { auditEvents(filter: $f) { pageInfo { hasNextPage } } }",
        {"f": {"decision": "ALOW"}}, "auditor", "Did you mean the enum value 'ALLOW'?",
    ),
}  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES)
async def test_production_suggests_nothing_and_development_does(
    client: httpx.AsyncClient, world: World, settings: Settings, keyring: Keyring, mistake: str
) -> None:
    """A suggestion names a part of the schema the caller did not know (introspection being
    off): production keeps every one out, in validation and in coercing variables alike."""
    query, variables, user, suggestion = MISTAKES[mistake]
    production = await gql(client, query, variables, as_user=user)
    dev = create_app(replace(settings, environment=Environment.DEVELOPMENT), TestAuthenticator())
    dev.state.keyring = keyring
    async with https_client(dev) as http:
        development = await gql(http, query, variables, as_user=user)
    for response in (production, development):
        assert response.json()["data"] is None
        assert codes(response)[0] == "GRAPHQL_VALIDATION_FAILED"
    assert "Did you mean" not in production.text
    assert suggestion.removeprefix("Did you mean ").removesuffix("?") not in production.text
    assert suggestion in development.json()["errors"][0]["message"]


async def test_development_allows_introspection(settings: Settings, world: World) -> None:
    dev = create_app(replace(settings, environment=Environment.DEVELOPMENT), TestAuthenticator())
    dev.state.keyring = None
    async with https_client(dev) as http:
        response = await gql(http, "{ __schema { queryType { name } } }", as_user="desk")
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_a_keyring_gone_missing_withholds_the_response(
    settings: Settings, world: World
) -> None:
    # The database is up (the `world` fixture's app started it); this app has no keyring.
    broken = create_app(settings, TestAuthenticator())
    broken.state.keyring = None
    async with https_client(broken) as http:
        query = "query($id: ID!) { patient(id: $id) { givenName ssn } }"
        response = await gql(http, query, {"id": world.patients["own"]}, as_user="doc")
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["PHI_UNAVAILABLE"]
    assert "NoneType" not in response.text
    assert OWN["given_name"] not in response.text


async def test_database_down_is_503_without_data(
    client: httpx.AsyncClient, world: World, database_url: str, pg_admin_url: str | None
) -> None:
    if database_url.startswith("sqlite"):
        # The file under the open connection stops being a database.
        for path in Path(database_url.removeprefix("sqlite://")).parent.glob("phigate.sqlite3*"):
            path.write_bytes(b"\0" * path.stat().st_size)
    else:
        assert pg_admin_url is not None
        admin = await asyncpg.connect(pg_admin_url)
        try:
            await admin.execute(f'DROP DATABASE "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')
        finally:
            await admin.close()
    query = "query($id: ID!) { patient(id: $id) { ssn } }"
    response = await gql(client, query, {"id": world.patients["own"]}, as_user="doc")
    assert (response.status_code, response.json()) == (503, {"error": "service_unavailable"})
    assert OWN["ssn"] not in response.text
