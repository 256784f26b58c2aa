"""The pages and passkey endpoints over HTTP (the real app, both backends): what they refuse,
and what a production server does not serve. The browser walks them in tests/test_browser.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from api.headers import PAGE_CSP
from models import AuditEvent
from tests.world import PASSWORD, World

pytestmark = pytest.mark.usefixtures("session_world")


async def test_pages_load_only_local_assets_and_production_has_no_graphiql(
    session_client: httpx.AsyncClient,
) -> None:
    page = await session_client.get("/signin")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == PAGE_CSP
    assert "https:" not in PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP
    assert '<label for="username">' in page.text
    script = await session_client.get("/assets/pages.js")
    assert script.headers["content-type"].startswith("text/javascript")
    for name in ("vendor/graphiql.min.js", "../settings.py", "pages.css/../../app.py"):
        assert (await session_client.get(f"/assets/{name}")).status_code == 404


async def test_a_browser_without_a_session_is_sent_to_sign_in_and_back(
    session_client: httpx.AsyncClient,
) -> None:
    query = "response_type=code&client_id=c1&scope=patient.read&state=s"
    page = await session_client.get(f"/oauth/authorize?{query}", headers={"accept": "text/html"})
    assert page.status_code == 303
    location = urlsplit(page.headers["location"])
    assert location.path == "/signin"
    assert parse_qs(location.query)["next"] == [f"/oauth/authorize?{query}"]
    account = await session_client.get("/account")
    assert account.headers["location"] == "/signin?next=%2Faccount"
    # An API client still gets JSON.
    api = await session_client.get(f"/oauth/authorize?{query}")
    assert api.json() == {"error": "login_required"}


async def test_passkey_endpoints_need_a_session_and_refuse_a_forged_answer(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    for path in ("/auth/passkeys/options", "/auth/unlock/passkey/options"):
        refused = await session_client.post(path, json={})
        assert refused.json() == {"error": "missing_credentials"}, path
    step = await session_client.post("/auth/login", json={"username": "doc", "password": PASSWORD})
    assert step.json()["passkeys"] is False
    token = step.json()["mfa_token"]
    options = await session_client.post("/auth/mfa/passkey/options", json={"mfa_token": token})
    assert (options.status_code, options.json()) == (409, {"error": "no_passkeys"})
    forged = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}
    answer = await session_client.post(
        "/auth/mfa/passkey", json={"mfa_token": token, "credential": forged}
    )
    assert (answer.status_code, answer.json()) == (401, {"error": "invalid_code"})
    malformed = await session_client.post(
        "/auth/mfa/passkey", json={"mfa_token": token, "credential": "AAAA"}
    )
    assert malformed.json() == {"error": "credential_required"}
    events = [e.event for e in await AuditEvent.filter(event__startswith="PASSKEY").all()]
    assert events == ["PASSKEY_FAILED"]
    assert await AuditEvent.filter(event="MFA_FAILED").count() == 1
