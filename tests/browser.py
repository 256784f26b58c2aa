"""Real headless Chromium (Debian's `chromium`, driven by Playwright from PyPI) against a real
`phigate serve` on 127.0.0.1 over TLS. Loaded by tests/conftest.py as a pytest plugin.

Every request the page makes to anything but the server is aborted, as on a network that
reaches no CDN. The browser trusts exactly the server's generated certificate (by its key), so
the page is a secure context without certificate errors, as WebAuthn requires. A failing test
leaves a screenshot in `test-artifacts/` (or `$PHIGATE_TEST_ARTIFACTS`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Page, Route, sync_playwright

from tests.helpers import debian_tool
from tests.live import LiveServer, free_port, live_server

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("PHIGATE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
WEB_APP = "https://127.0.0.1:1443"
"""A frontend of another origin, allowed to call phigate (PHIGATE_CORS_ORIGINS); the test
serves its page from Playwright itself, so it needs no network either."""
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if getattr(report, "failed", False):
        item.stash[_FAILED] = True
    return report


@pytest.fixture(scope="session")
def chromium() -> str:
    return debian_tool("chromium", "chromium")


def spki_pin(cert: Path) -> str:
    """What `--ignore-certificate-errors-spki-list` takes: base64 SHA-256 of the public key."""
    key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@dataclass
class Site:
    """The live server as a browser reaches it: by name (WebAuthn refuses an IP address)."""

    server: LiveServer
    origin: str
    blocked: list[str] = field(default_factory=list)
    """Requests aborted because they went elsewhere than the server."""
    console_errors: list[str] = field(default_factory=list)
    """Errors the pages logged (a script failing, a CSP violation); not the refusals a test
    provokes on purpose, which Chromium logs as failed loads."""

    def url(self, path: str) -> str:
        return self.origin + path


def phigate(env: dict[str, str], data_dir: Path, *args: str) -> str:
    """A `phigate` command on the same database and data directory; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env={**os.environ, **env, "PHIGATE_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def demo_logins(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(\S+)\s+\S+\s+(\S+)$", output, flags=re.MULTILINE))


def _sql(database_url: str, statement: str, *values: object) -> list[tuple[object, ...]]:
    """One statement on the server's database, behind its back: for what a test cannot wait
    for (an idle timeout is a minute at least) and for reading what it audited."""
    if database_url.startswith("sqlite://"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite://"))) as db:
            rows = db.execute(statement.replace("$1", "?"), values).fetchall()
            db.commit()
            return rows

    async def run() -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(database_url.replace("postgres://", "postgresql://"))
        try:
            return [tuple(row) for row in await connection.fetch(statement, *values)]
        finally:
            await connection.close()

    # In a thread of its own: Playwright's synchronous API keeps an event loop running here.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def make_sessions_idle(database_url: str) -> None:
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    value: object = str(long_ago) if database_url.startswith("sqlite://") else long_ago
    _sql(database_url, "UPDATE auth_session SET last_seen_at = $1", value)


def audit_events(database_url: str) -> list[str]:
    return [str(row[0]) for row in _sql(database_url, "SELECT event FROM audit_event ORDER BY id")]


def authenticator(page: Page) -> None:
    """Chromium's virtual platform authenticator, with user verification (as Touch ID)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


@pytest.fixture
def site_env(database_url: str, master_key: str) -> dict[str, str]:
    port = free_port()
    return {
        "PHIGATE_ENV": "development",
        "PHIGATE_DATABASE_URL": database_url,
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_PORT": str(port),
        "PHIGATE_WEBAUTHN_ORIGIN": f"https://localhost:{port}",
        "PHIGATE_CORS_ORIGINS": WEB_APP,
    }


@pytest.fixture
def site(site_env: dict[str, str], tmp_path: Path) -> Iterator[Site]:
    with live_server(site_env, tmp_path, port=int(site_env["PHIGATE_PORT"])) as server:
        yield Site(server, site_env["PHIGATE_WEBAUTHN_ORIGIN"])
    assert "Traceback" not in server.output, server.output[server.output.find("Traceback") :]


@pytest.fixture
def page(request: pytest.FixtureRequest, chromium: str, site: Site) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                f"--ignore-certificate-errors-spki-list={spki_pin(site.server.cert)}",
                # The test's frontend page is served by Playwright, from no address at all:
                # Chromium's local-network checks would refuse it before CORS is asked.
                "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessChecks",
            ],
        )
        context = browser.new_context()

        def only_local(route: Route) -> None:
            if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                site.blocked.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", only_local)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and not message.text.startswith("Failed to load resource")
                and site.console_errors.append(message.text)
            ),
        )
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            if request.node.stash.get(_FAILED, False):
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
                page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
            browser.close()
