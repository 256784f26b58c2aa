"""Test tooling: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from `PHIGATE_TEST_DATABASE_URL` (an admin URL) or a throwaway cluster started
from the local binaries. Without either, PostgreSQL runs are skipped, except under `CI=true`,
where a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from tortoise.backends.base.executor import EXECUTOR_CACHE

from api import db
from api.app import create_app
from api.settings import Environment, Settings
from crypto.keyring import Keyring
from tests.helpers import ManualClock, TestAuthenticator, debian_tool
from tests.log_capture import LeakScan, scanning, world_values
from tests.pgcluster import (
    database_from_template,
    drop_database,
    find_bin_dir,
    throwaway_cluster,
    with_database,
)
from tests.world import World, build_world

BACKENDS = ("sqlite", "postgres")
# Real Chromium for the pages (tests/browser.py): its fixtures and failure screenshots.
pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str | None]:
    url = os.environ.get("PHIGATE_TEST_DATABASE_URL")
    if url:
        yield url
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries not found and PHIGATE_TEST_DATABASE_URL unset (CI)")
        yield None
        return
    with throwaway_cluster(bin_dir) as admin_url:
        yield admin_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(db.migrate(f"sqlite://{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str | None) -> str | None:
    if pg_admin_url is None:
        return None
    name = f"phigate_template_{secrets.token_hex(4)}"

    async def build() -> None:
        conn = await asyncpg.connect(pg_admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await db.migrate(with_database(pg_admin_url, name))

    asyncio.run(build())
    return name


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
    pg_admin_url: str | None,
    pg_template: str | None,
) -> AsyncIterator[str]:
    """A freshly migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "phigate.sqlite3"
        shutil.copy(sqlite_template, path)
        yield f"sqlite://{path}"
        return
    if pg_admin_url is None or pg_template is None:
        pytest.skip("PostgreSQL unavailable (set PHIGATE_TEST_DATABASE_URL or install it)")
    url = await database_from_template(pg_admin_url, pg_template)
    yield url
    await drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
def oathtool() -> str:
    return debian_tool("oathtool", "oathtool")


@pytest.fixture(scope="session")
def wrk() -> str:
    """The HTTP load generator bench/load.py and bench/mixed_load.py drive the server with."""
    return debian_tool("wrk", "wrk")


@pytest.fixture(scope="session")
def master_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log(master_key: str) -> Iterator[None]:
    """Every line phigate would log during the whole run, at DEBUG, is scanned for the world's
    PHI values, its password and the master key; a leak fails the run at its end (naming the
    logger and value). Servers the tests start as processes log to files of their own."""
    with scanning(LeakScan({*world_values(), master_key})) as scan:
        yield
    assert scan.leaks == [], f"{len(scan.leaks)} log lines with a secret in them"


@pytest.fixture
def settings(database_url: str, master_key: str, tmp_path: Path) -> Settings:
    return Settings(
        environment=Environment.PRODUCTION,
        data_dir=tmp_path,
        database_url=database_url,
        master_key=master_key,
        host="127.0.0.1",
        port=0,
        # Tests seed rows straight through the ORM, which leaves no write records for the
        # tally to take in: tests of the tally build and drain it themselves (test_tally.py).
        report_tally_interval=timedelta(0),
    )


@contextlib.asynccontextmanager
async def running(application: Starlette) -> AsyncIterator[Starlette]:
    """Run the app's lifespan (database, keyring) around a test."""
    # Tortoise caches INSERT statements per connection name, not per dialect; tests switch
    # dialects within one process, so start each app from an empty cache.
    EXECUTOR_CACHE.clear()
    async with application.router.lifespan_context(application):
        yield application


def https_client(application: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=application)
    return httpx.AsyncClient(transport=transport, base_url="https://phigate.test")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The real application with the test authenticator (acts as any user by header)."""
    async with running(create_app(settings, authenticate=TestAuthenticator())) as application:
        yield application


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def session_app(settings: Settings, clock: ManualClock) -> AsyncIterator[Starlette]:
    """The real application with its production authenticator (sessions) and a manual clock."""
    async with running(create_app(settings, clock=clock)) as application:
        yield application


@pytest.fixture
async def session_client(session_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with https_client(session_app) as http:
        yield http


@pytest.fixture
def keyring(app: Starlette) -> Keyring:
    ring: Keyring = app.state.keyring
    return ring


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with https_client(app) as http:
        yield http


@pytest.fixture
async def world(keyring: Keyring) -> World:
    return await build_world(keyring)


@pytest.fixture
async def session_world(session_app: Starlette) -> World:
    return await build_world(session_app.state.keyring)
