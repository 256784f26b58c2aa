"""`phigate clients create|list|revoke` as an operator runs it: a real process on a real
database, then the database checked directly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

from joserfc.jwk import ECKey
from tortoise.backends.base.executor import EXECUTOR_CACHE

from api import db
from api.auth.tokens import digest
from models import AuditEvent, OAuthClient, Organization
from tests.test_cli import phigate


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(phigate, "clients", *args, env=env)


@contextlib.asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[None]:
    # Tortoise caches statements per connection name, not per dialect (see conftest.running).
    EXECUTOR_CACHE.clear()
    await db.connect(database_url)
    try:
        yield
    finally:
        await db.disconnect()


def field(output: str, name: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith(f"{name}:")]
    return line.split(":", 1)[1].strip()


async def test_create_list_revoke(database_url: str, master_key: str, tmp_path: Path) -> None:
    env = {
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_DATA_DIR": str(tmp_path),
    }
    async with connected(database_url):
        org = (await Organization.create(name="Clearing House")).public_id
    created = await cli(
        env, "create", "--name", "Clearing House", "--organization", org,
        "--scope", "patient.read phi.identifiers", "--allowed-networks", "10.0.0.0/8",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    client_id, secret = field(created.stdout, "client_id"), field(created.stdout, "client_secret")
    jwk = tmp_path / "partner.jwk"
    jwk.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=False)))
    keyed = await cli(
        env, "create", "--name", "Keyed", "--organization", org, "--scope", "patient.read",
        "--auth-method", "private_key_jwt", "--jwk", str(jwk),
    )  # fmt: skip
    assert keyed.returncode == 0, keyed.stderr
    assert "client_secret" not in keyed.stdout
    listed = await cli(env, "list")
    assert client_id in listed.stdout
    assert secret not in listed.stdout
    assert "[patient.read phi.identifiers]" in listed.stdout
    public = await cli(
        env, "create", "--name", "Ward App", "--organization", org, "--scope", "patient.read",
        "--grant", "authorization_code", "--redirect-uri", "https://app.example/cb",
        "--auth-method", "none",
    )  # fmt: skip
    assert public.returncode == 0, public.stderr
    assert "client_secret" not in public.stdout
    public_id = field(public.stdout, "client_id")
    assert public_id in (await cli(env, "list")).stdout
    private = tmp_path / "private.jwk"
    private.write_text(json.dumps(ECKey.generate_key("P-256").as_dict(private=True)))
    refusals = [
        ("--scope", "phi.everything"),
        ("--scope", "patient.read", "--auth-method", "private_key_jwt", "--jwk", str(private)),
        ("--scope", "patient.read", "--grant", "authorization_code"),
        ("--scope", "patient.read", "--auth-method", "none"),  # client_credentials: refused
        ("--scope", "patient.read", "--grant", "authorization_code",
         "--redirect-uri", "http://app.example/cb"),
    ]  # fmt: skip
    for extra in refusals:
        refused = await cli(env, "create", "--name", "x", "--organization", org, *extra)
        assert refused.returncode == 2, extra
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith("phigate: ")
    long_name = await cli(env, "create", "--name", "n" * 201, "--organization", org,
                          "--scope", "patient.read")  # fmt: skip
    assert long_name.returncode == 2
    assert long_name.stderr == "phigate: name must be 1 to 200 characters\n"
    assert (await cli(env, "revoke", client_id)).returncode == 0
    assert (await cli(env, "revoke", client_id)).returncode == 1
    async with connected(database_url):
        row = await OAuthClient.get(public_id=client_id)
        assert row.secret_hash == digest(secret)
        assert row.revoked_at is not None
        assert row.allowed_networks == "10.0.0.0/8"
        events = await AuditEvent.filter(client=client_id).values_list("event", flat=True)
        assert list(events) == ["CLIENT_CREATED", "CLIENT_REVOKED"]
        assert await OAuthClient.all().count() == 3
        public_row = await OAuthClient.get(public_id=public_id)
        assert (public_row.auth_method.value, public_row.secret_hash) == ("none", None)
        assert public_row.grant_types == "authorization_code refresh_token"
