"""The browser path end to end in real headless Chromium (tests/browser.py): offline GraphiQL,
the sign-in pages, passkeys and the OAuth2 consent page, on both database backends."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import Site, demo_logins, phigate

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
    assert site.blocked == []
    assert site.console_errors == []
