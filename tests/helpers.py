"""Test helpers: a principal from a test header, and GraphQL over HTTP.

`TestAuthenticator` stands in for the login flow until it exists: it is passed to `create_app`
explicitly, so the production app never accepts the header.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request

from api.auth import client_ip
from models import User
from permissions.policy import DEFAULT_PURPOSE
from permissions.principal import Mode, Principal

AS_USER = "x-test-as"
MODE = "x-test-mode"


class TestAuthenticator:
    async def __call__(self, request: Request) -> Principal | None:
        username = request.headers.get(AS_USER)
        if username is None:
            return None
        user = await User.get(username=username)
        return Principal(
            actor=user.public_id,
            role=user.role,
            purpose=DEFAULT_PURPOSE[user.role],
            request_id=request.state.request_id,
            ip=client_ip(request),
            user_pk=user.id,
            mode=Mode(request.headers.get(MODE, Mode.IDENTIFIED.value)),
        )


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    as_user: str | None = None,
    mode: str | None = None,
) -> httpx.Response:
    headers = {}
    if as_user is not None:
        headers[AS_USER] = as_user
    if mode is not None:
        headers[MODE] = mode
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
