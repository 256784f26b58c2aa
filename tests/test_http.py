"""The HTTP surface: authentication required, production has no test path, safe headers."""

from __future__ import annotations

from dataclasses import replace

import httpx
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Environment, Settings
from tests.helpers import AS_USER, gql
from tests.world import World


async def test_graphql_requires_authentication(client: httpx.AsyncClient, world: World) -> None:
    response = await gql(client, "{ patients { totalCount } }")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="phigate"'
    assert response.json() == {
        "errors": [
            {
                "message": "Authentication required",
                "extensions": {
                    "code": "UNAUTHENTICATED",
                    "reason": "missing_credentials",
                    "request_id": response.headers["x-request-id"],
                },
            }
        ]
    }


async def test_production_app_ignores_the_test_header(
    app: Starlette, settings: Settings, world: World
) -> None:
    production = create_app(settings)
    transport = httpx.ASGITransport(app=production)
    async with httpx.AsyncClient(transport=transport, base_url="https://phigate.test") as http:
        response = await http.post(
            "/graphql",
            json={"query": f'{{ patient(id: "{world.patients["own"]}") {{ ssn }} }}'},
            headers={AS_USER: "doc"},
        )
        ide = await http.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 401
    assert "data" not in response.json()
    assert ide.status_code == 401


async def test_responses_carry_no_store_and_a_request_id(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await gql(client, "{ patients { totalCount } }", as_user="doc")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert len(response.headers["x-request-id"]) == 24
    other = await gql(client, "{ patients { totalCount } }", as_user="doc")
    assert other.headers["x-request-id"] != response.headers["x-request-id"]


async def test_development_serves_graphiql(app: Starlette, settings: Settings) -> None:
    dev = create_app(replace(settings, environment=Environment.DEVELOPMENT))
    transport = httpx.ASGITransport(app=dev)
    async with httpx.AsyncClient(transport=transport, base_url="https://phigate.test") as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        health = await http.get("/healthz")
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()
    assert health.json() == {"status": "ok"}
