"""CORS through the real app: an allowed origin, a refused one, and no allowlist at all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from api.app import create_app
from api.settings import ConfigError, Settings
from tests.conftest import https_client, running
from tests.helpers import AS_USER, TestAuthenticator
from tests.world import build_world

APP_ORIGIN = "https://ward.example.org"
PREFLIGHT = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "content-type, x-csrf-token, authorization",
}
SPA_PATHS = ("/graphql", "/auth/login", "/auth/session", "/oauth/token")


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    allowing = replace(settings, cors_origins=frozenset({APP_ORIGIN}))
    async with running(create_app(allowing, authenticate=TestAuthenticator())) as application:
        await build_world(application.state.keyring)
        async with https_client(application) as http:
            yield http


@pytest.mark.parametrize("path", SPA_PATHS)
async def test_a_listed_origin_gets_a_credentialed_preflight(
    cors_client: httpx.AsyncClient, path: str
) -> None:
    response = await cors_client.options(path, headers={"origin": APP_ORIGIN, **PREFLIGHT})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "x-csrf-token", "authorization"} <= allowed
    assert response.headers["vary"].lower() == "origin"


async def test_a_listed_origin_reads_answers_and_their_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.post(
        "/graphql",
        json={"query": "{ patients { totalCount } }"},
        headers={"origin": APP_ORIGIN, AS_USER: "doc"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in response.headers["access-control-expose-headers"]
    assert response.headers["vary"].lower() == "origin"
    # A refusal is readable too: the page can tell a 401 from a network failure.
    refused = await cors_client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": APP_ORIGIN}
    )
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == APP_ORIGIN


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://ward.example.org:8443", "http://ward.example.org"]
)
async def test_another_origin_is_refused(cors_client: httpx.AsyncClient, origin: str) -> None:
    preflight = await cors_client.options("/graphql", headers={"origin": origin, **PREFLIGHT})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    error = preflight.json()["errors"][0]
    assert error["extensions"]["reason"] == "cors_refused"
    assert preflight.headers["vary"].lower() == "origin"
    # A simple request goes through unmarked: the browser keeps its answer from the page.
    simple = await cors_client.get("/healthz", headers={"origin": origin})
    assert "access-control-allow-origin" not in simple.headers
    assert "access-control-allow-credentials" not in simple.headers
    assert simple.headers["vary"].lower() == "origin"


async def test_a_preflight_for_another_method_or_header_is_refused(
    cors_client: httpx.AsyncClient,
) -> None:
    for asked in (
        {"access-control-request-method": "DELETE"},
        {"access-control-request-method": "POST", "access-control-request-headers": "x-test-as"},
    ):
        response = await cors_client.options("/graphql", headers={"origin": APP_ORIGIN, **asked})
        assert response.status_code == 403
        assert "access-control-allow-origin" not in response.headers
    # In the endpoint's shape: OAuth's own error fields.
    oauth = await cors_client.options(
        "/oauth/token",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert oauth.json() == {"error": "invalid_request", "error_description": "cors_refused"}


async def test_without_an_allowlist_no_origin_is_allowed(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/graphql", headers={"origin": APP_ORIGIN, **PREFLIGHT})
    assert preflight.status_code == 403
    assert "access-control-allow-origin" not in preflight.headers
    simple = await client.get("/healthz", headers={"origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize(
    "value", ["*", "https://*.example.org", "null", "https://a.example/path", "ftp://a.example"]
)
def test_an_allowlist_entry_must_be_one_exact_origin(value: str) -> None:
    with pytest.raises(ConfigError, match="PHIGATE_CORS_ORIGINS"):
        Settings.from_env({"PHIGATE_CORS_ORIGINS": value})


def test_the_allowlist_is_read_from_the_environment() -> None:
    env = {"PHIGATE_CORS_ORIGINS": "https://Ward.Example.org, https://portal.example.org:8443/"}
    assert Settings.from_env(env).cors_origins == {
        "https://ward.example.org",
        "https://portal.example.org:8443",
    }
