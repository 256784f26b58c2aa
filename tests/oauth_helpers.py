"""OAuth2 test tooling: partner clients are authlib's own httpx client, unmodified, talking to
the real app over an ASGI transport."""

from __future__ import annotations

import json
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from starlette.applications import Starlette

from api.clock import Clock
from api.oauth.clients import Created, Grant, Registration, create_client
from models import ClientAuthMethod, Organization
from permissions.roles import Role

BASE = "https://phigate.test"
TOKEN_URL = f"{BASE}/oauth/token"
AUTHORIZE_URL = f"{BASE}/oauth/authorize"
INTROSPECT_URL = f"{BASE}/oauth/introspect"
REVOKE_URL = f"{BASE}/oauth/revoke"
REDIRECT = "https://app.example.org/callback"

PATIENT = """query($id: ID!) {
  patient(id: $id) { givenName birthDate ssn mrn diagnoses { code } }
}"""
PAGE = "query($mrn: String) { patients(first: 10, mrn: $mrn) { totalCount } }"


async def register(
    clock: Clock,
    scopes: str,
    *,
    organization: str = "Test Hospital",
    role: Role = Role.BILLING,
    grant: Grant = Grant.CLIENT_CREDENTIALS,
    auth_method: ClientAuthMethod = ClientAuthMethod.SECRET_BASIC,
    public_jwk: dict[str, Any] | None = None,
    allowed_networks: str | None = None,
) -> Created:
    org = await Organization.get_or_none(name=organization) or await Organization.create(
        name=organization
    )
    return await create_client(
        Registration(
            name="Partner",
            organization=org.public_id,
            scopes=scopes.split(),
            grant=grant,
            role=role,
            auth_method=auth_method,
            public_jwk=None if public_jwk is None else json.dumps(public_jwk),
            redirect_uris=[REDIRECT] if grant is Grant.AUTHORIZATION_CODE else [],
            allowed_networks=allowed_networks,
        ),
        clock,
    )


def partner(
    app: Starlette, client_id: str, secret: Any = None, **options: Any
) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id,
        secret,
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        **options,
    )


async def ask(http: httpx.AsyncClient, token: str, query: str, **variables: Any) -> httpx.Response:
    return await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )


def forbidden_paths(body: dict[str, Any]) -> set[str]:
    return {
        ".".join(str(p) for p in error["path"])
        for error in body.get("errors", [])
        if error["extensions"]["code"] == "FORBIDDEN"
    }
