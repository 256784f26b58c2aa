"""Two PostgreSQL roles (issue 25): the migration role owns the schema; the serving role owns
nothing, and the server runs as it. Proven here: the whole login-to-PHI path works as the
serving role (audit records and all), and that role can neither turn append-only off nor change
or remove an audit row, nor alter or create tables."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from tests.helpers import secret_of, totp_code
from tests.live import live_server

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def serving_role(database_url: str) -> AsyncIterator[str]:
    role = f"phigate_serving_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        yield role
        await admin.execute(f"DROP OWNED BY {role}")  # its grants in this database
        await admin.execute(f"DROP ROLE {role}")
    finally:
        await admin.close()


def phigate(env: dict[str, str], data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, **env, "PHIGATE_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def as_role(database_url: str, role: str) -> str:
    scheme, rest = database_url.split("://", 1)
    return f"{scheme}://{role}@{rest.split('@', 1)[1]}"


async def test_the_server_runs_as_a_role_that_cannot_undo_append_only(
    database_url: str, serving_role: str, master_key: str, tmp_path: Path, oathtool: str
) -> None:
    owner = {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key}
    migrated = phigate({**owner, "PHIGATE_SERVING_ROLE": serving_role}, tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"grants set for serving role {serving_role}" in migrated.stdout

    serving_url = as_role(database_url, serving_role)
    serving = {**owner, "PHIGATE_DATABASE_URL": serving_url}
    seeded = phigate(serving, tmp_path, "demo", "--patients", "3")
    assert seeded.returncode == 0, seeded.stderr
    password = re.search(r"dr\.grey\s+physician\s+(\S+)", seeded.stdout)
    assert password is not None
    with (
        live_server({**serving, "PHIGATE_AUDIT_SETTLE_SECONDS": "0"}, tmp_path) as server,
        server.client() as http,
    ):
        assert http.get("/readyz").json() == {"status": "ready"}
        step = http.post("/auth/login", json={"username": "dr.grey", "password": password[1]})
        assert step.status_code == 200, step.text
        mfa_token = step.json()["mfa_token"]
        enrolment = http.post("/auth/mfa/enrol", json={"mfa_token": mfa_token}).json()
        code = totp_code(oathtool, secret_of(enrolment["otpauth_uri"]), datetime.now(UTC))
        done = http.post("/auth/mfa", json={"mfa_token": mfa_token, "code": code})
        auth = {"authorization": f"Bearer {done.json()['token']}"}
        query = {"query": "{ patients(first: 10) { edges { node { ssn } } } }"}
        page = http.post("/graphql", json=query, headers=auth).json()
        assert "errors" not in page, page
        assert page["data"]["patients"]["edges"]
        assert http.post("/auth/logout", headers=auth).status_code == 204
    assert "Traceback" not in server.output

    conn = await asyncpg.connect(serving_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM audit_event WHERE event = 'PHI_ACCESS'")
        refused = [
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
            "ALTER TABLE audit_event DISABLE TRIGGER ALL",
            "UPDATE audit_event SET detail = 'changed'",
            "DELETE FROM audit_event",
            "TRUNCATE audit_event",
            "UPDATE audit_seal SET row_count = 0",
            "DELETE FROM audit_seal",
            "DROP TABLE audit_event",
            "ALTER TABLE patient ADD COLUMN x int",
            "CREATE TABLE shadow (id int)",
            "DELETE FROM tortoise_migrations",
        ]
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    finally:
        await conn.close()


async def test_migrate_refuses_a_serving_role_that_would_defeat_the_grants(
    database_url: str, master_key: str, tmp_path: Path
) -> None:
    owner = {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key}
    admin = database_url.split("://", 1)[1].split("@", 1)[0]
    for role, message in [
        (admin, "must be neither a superuser nor the migrating role"),
        ("phigate_nobody", "does not exist"),
        ("Robert'); DROP TABLE patient;--", "must be a lower-case PostgreSQL identifier"),
    ]:
        result = phigate({**owner, "PHIGATE_SERVING_ROLE": role}, tmp_path, "migrate")
        assert result.returncode == 1, result.stderr
        assert message in result.stderr
