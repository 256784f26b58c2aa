"""Test helpers: a principal from a test header, and GraphQL over HTTP.

`TestAuthenticator` lets the policy tests act as any user without a login round trip per
request (tests/test_auth.py covers the login flow itself). It is passed to `create_app`
explicitly, so the production app never accepts the header.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from starlette.requests import Request
from tortoise import connections

from api.auth import client_ip
from api.auth.sessions import user_principal
from models import AuditEvent, User
from permissions.principal import Principal

AS_USER = "x-test-as"


class TestAuthenticator:
    async def __call__(self, request: Request) -> Principal | None:
        username = request.headers.get(AS_USER)
        if username is None:
            return None
        user = await User.get(username=username)
        return user_principal(user, request.state.request_id, ip=client_ip(request))


def placeholder() -> str:
    """The first bind parameter in raw SQL on the current database."""
    return "$1" if connections.get("default").capabilities.dialect == "postgres" else "?"


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    as_user: str | None = None,
) -> httpx.Response:
    headers = {}
    if as_user is not None:
        headers[AS_USER] = as_user
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


class ManualClock:
    """A clock the test moves forward explicitly."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


def totp_code(oathtool: str, secret: str, at: datetime) -> str:
    """A TOTP code from Debian's oathtool: an implementation independent of pyotp."""
    out = subprocess.run(
        [oathtool, "--totp", "-b", secret, "-N", f"@{int(at.timestamp())}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def secret_of(otpauth_uri: str) -> str:
    return parse_qs(urlparse(otpauth_uri).query)["secret"][0]


async def audited_fields(request_id: str) -> list[tuple[str | None, str, str, str | None]]:
    """Every PHI field access a request recorded: (patient, field, path, decision), in order."""
    records = await AuditEvent.filter(request_id=request_id, event="PHI_ACCESS").order_by("id")
    return [
        (record.patient, field, path, record.decision)
        for record in records
        for field, path in record.accessed()
    ]


def debian_tool(command: str, package: str) -> str:
    """A Debian package's program, installed by the test tooling itself when running as root;
    missing, it fails the run under CI and skips elsewhere."""
    path = shutil.which(command)
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, capture_output=True, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
            subprocess.run(install, capture_output=True, env=env, check=False)
        path = shutil.which(command)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{command} is required under CI (Debian package {package})")
        pytest.skip(f"{command} not installed (apt-get install {package})")
    return path


async def write_records(request_id: str) -> list[tuple[str, str | None, list[tuple[str, str]]]]:
    """A request's write audit records: (event, decision, [(field, input path)...])."""
    rows = await AuditEvent.filter(request_id=request_id).exclude(event="PHI_ACCESS").order_by("id")
    return [(r.event, r.decision, r.accessed()) for r in rows]
