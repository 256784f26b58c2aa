"""The browser path end to end in real headless Chromium (tests/browser.py): offline GraphiQL,
the sign-in pages, passkeys and the OAuth2 consent page, on both database backends."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from playwright.sync_api import Page, Route, expect

from tests.browser import (
    WEB_APP,
    Site,
    audit_events,
    authenticator,
    demo_logins,
    make_sessions_idle,
    phigate,
)
from tests.helpers import secret_of, totp_code
from tests.oauth_helpers import REDIRECT

QUERY = "{ patients(first: 5) { totalCount } }"


def _type_query(page: Page, text: str) -> None:
    editor = page.locator(".graphiql-query-editor .CodeMirror").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


def _sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


def test_graphiql_loads_offline_and_runs_a_query_with_the_cookie_session(
    page: Page, site: Site, site_env: dict[str, str], tmp_path: Path
) -> None:
    logins = demo_logins(phigate(site_env, tmp_path, "demo", "--patients", "3"))
    page.goto(site.url("/signin?next=/graphql"))
    _sign_in(page, "patient.pat", logins["patient.pat"])
    page.wait_for_url(site.url("/graphql"))
    _type_query(page, QUERY)
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"totalCount": 1')
    assert page.url == site.url("/graphql"), "the query must not reach the URL"
    # A reloaded or new tab has no copy of the CSRF token: GraphiQL reads it from the session.
    page.evaluate("window.sessionStorage.clear()")
    page.reload()
    _type_query(page, QUERY)
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"totalCount": 1')
    assert site.blocked == []
    assert site.console_errors == []


def test_a_patient_signs_in_on_the_consent_page_and_approves_an_app(
    page: Page, site: Site, site_env: dict[str, str], tmp_path: Path
) -> None:
    logins = demo_logins(phigate(site_env, tmp_path, "demo", "--patients", "3"))
    organization = phigate(site_env, tmp_path, "organizations", "list").split()[0]
    created = phigate(
        site_env, tmp_path, "clients", "create", "--name", "Pocket Health",
        "--organization", organization, "--scope", "patient.read phi.demographics",
        "--grant", "authorization_code", "--auth-method", "none", "--redirect-uri", REDIRECT,
    )  # fmt: skip
    client_id = re.search(r"client_id:\s+(\S+)", created)[1]  # type: ignore[index]
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
            "scope": "patient.read phi.demographics", "state": "s1",
            "code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256",
        }
    )  # fmt: skip
    page.goto(site.url(f"/oauth/authorize?{query}"))
    _sign_in(page, "patient.pat", logins["patient.pat"])
    expect(page.get_by_role("heading", name="Allow Pocket Health?")).to_be_visible()
    expect(page.locator(".scopes")).to_contain_text("birth dates")
    with page.expect_request(lambda request: request.url.startswith(REDIRECT)) as callback:
        page.get_by_role("button", name="Allow").click()
    returned = parse_qs(urlsplit(callback.value.url).query)
    assert returned["state"] == ["s1"]
    with site.server.client() as http:
        token = http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code", "code": returned["code"][0],
                "client_id": client_id, "redirect_uri": REDIRECT, "code_verifier": verifier,
            },
        )  # fmt: skip
        assert token.status_code == 200, token.text
        answer = http.post(
            "/graphql",
            json={"query": QUERY},
            headers={"authorization": f"Bearer {token.json()['access_token']}"},
        )
    assert answer.json()["data"]["patients"]["totalCount"] == 1
    # The app's own address is not reachable from here; nothing else was asked for.
    assert all(url.startswith(REDIRECT) for url in site.blocked)
    assert site.console_errors == []


def test_staff_totp_then_passkey_sign_in_idle_unlock_and_a_query(
    page: Page, site: Site, site_env: dict[str, str], tmp_path: Path, oathtool: str
) -> None:
    """#22.7: TOTP enrolment and sign-in, a passkey registered, signed out, signed in with
    the passkey, gone idle, unlocked with the passkey, a query in GraphiQL."""
    logins = demo_logins(phigate(site_env, tmp_path, "demo", "--patients", "3"))
    authenticator(page)
    page.goto(site.url("/signin"))
    _sign_in(page, "dr.grey", "wrong password")
    expect(page.get_by_role("status")).to_contain_text("not right")
    _sign_in(page, "dr.grey", logins["dr.grey"])
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    secret = secret_of(page.locator("#otpauth").text_content() or "")
    page.get_by_label("Six-digit code").fill(totp_code(oathtool, secret, datetime.now(UTC)))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url("/account"))
    expect(page.get_by_text("Signed in as dr.grey")).to_be_visible()

    page.get_by_label("Name for a new passkey").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("button", name="Remove passkey Test laptop")).to_be_visible()
    page.wait_for_load_state("load")  # the reloaded page's script is in charge again
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site.url("/signin"))
    page.goto(site.url("/account"))
    page.wait_for_url(site.url("/signin?next=%2Faccount"))

    _sign_in(page, "dr.grey", logins["dr.grey"])
    page.get_by_role("button", name="Use a passkey instead").click()
    page.wait_for_url(site.url("/account"))

    make_sessions_idle(site_env["PHIGATE_DATABASE_URL"])
    page.goto(site.url("/graphql"))
    page.wait_for_url(site.url("/unlock?next=%2Fgraphql"))
    page.get_by_role("button", name="Unlock with a passkey").click()
    page.wait_for_url(site.url("/graphql"))
    _type_query(page, QUERY)
    page.keyboard.press("Control+Enter")
    expect(page.locator(".graphiql-response")).to_contain_text('"totalCount": ')
    expect(page.locator(".graphiql-response")).not_to_contain_text('"errors"')
    assert site.blocked == []
    assert site.console_errors == []
    events = audit_events(site_env["PHIGATE_DATABASE_URL"])
    for event in ("MFA_ENROLLED", "PASSKEY_REGISTERED", "PASSKEY_USED", "IDLE_EXPIRED"):
        assert event in events
    assert events.count("PASSKEY_USED") == 2


CROSS_ORIGIN_CALL = """async (url) => {
  try {
    const response = await fetch(url, {
      method: "POST", credentials: "include",
      headers: {"content-type": "application/json", "x-csrf-token": "none"},
      body: JSON.stringify({query: "{ __typename }"}),
    });
    return response.status;
  } catch (error) {
    return "refused by the browser";
  }
}"""


def test_a_cors_preflight_from_an_allowed_and_a_refused_origin(page: Page, site: Site) -> None:
    """A credentialed POST with a custom header: Chromium asks phigate first (OPTIONS), and
    lets the page read the answer only for the listed origin."""

    def frontend(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>app")

    elsewhere = "https://127.0.0.1:2443"
    page.route(f"{WEB_APP}/**", frontend)
    page.route(f"{elsewhere}/**", frontend)
    page.goto(f"{WEB_APP}/")
    # Preflight passed, then the request itself: no session, so 401, readable by the page.
    assert page.evaluate(CROSS_ORIGIN_CALL, site.url("/graphql")) == 401
    page.goto(f"{elsewhere}/")
    assert page.evaluate(CROSS_ORIGIN_CALL, site.url("/graphql")) == "refused by the browser"
