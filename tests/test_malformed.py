"""Malformed bodies, encodings and text, on every endpoint that reads a body, through the real
app (api/decoding.py): each is a 4xx in the endpoint's JSON error shape, never a 500 or a 503,
never an echo of what was sent. What an outside fault probe found (issue 25)."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from models import AuditEvent
from tests.helpers import AS_USER, gql
from tests.world import PASSWORD, World

JSON = {"content-type": "application/json"}
ENDPOINTS = [
    "/auth/login",
    "/auth/mfa",
    "/auth/mfa/enrol",
    "/auth/unlock",
    "/auth/devices",
    "/oauth/authorize",
    "/graphql",
]
MARKER = "zq7marker"  # stands in for a submitted value that may be PHI
BODIES: dict[str, tuple[bytes, dict[str, str]]] = {
    "deep_array": (b"[" * 5000, JSON),
    "deep_object": (b'{"username": ' + b'{"a": ' * 3000, JSON),
    "deep_but_complete": (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", JSON),
    "null": (b"null", JSON),
    "string": (b'"hello"', JSON),
    "array": (b"[1, 2]", JSON),
    "invalid_utf8": (b'{"username": "\xff\xfe' + MARKER.encode() + b'"}', JSON),
    "latin1_charset": (
        f'{{"username": "{MARKER}"}}'.encode(),
        {"content-type": "application/json; charset=latin-1"},
    ),
    "long_integer": (b'{"username": ' + b"9" * 5000 + b"}", JSON),
    "nan": (b'{"username": NaN}', JSON),
    # json.dumps escapes to ASCII: `\ud800`, `\u0000`, as a client sends them.
    "lone_surrogate": (
        json.dumps(
            {"username": f"\ud800{MARKER}", "password": "x", "mfa_token": "\udfff"}
        ).encode(),
        JSON,
    ),
    "surrogate_key": (json.dumps({"\ud800": "x"}).encode(), JSON),
    "nul": (
        json.dumps(
            {"username": f"dr\x00{MARKER}", "password": "x\x00", "mfa_token": "\x00"}
        ).encode(),
        JSON,
    ),
    "not_json_at_all": (f"{MARKER}=1".encode(), JSON),
}


async def ascii_gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, str], as_user: str
) -> httpx.Response:
    """GraphQL over HTTP with the JSON escaped to ASCII: a lone surrogate travels as `\\ud800`,
    as any client that can send one sends it."""
    content = json.dumps({"query": query, "variables": variables})
    return await client.post("/graphql", content=content, headers={**JSON, AS_USER: as_user})


def assert_refused(response: httpx.Response, path: str, case: str) -> dict[str, Any]:
    assert response.status_code in (400, 413, 415), (path, case, response.status_code)
    assert response.headers["content-type"] == "application/json", (path, case)
    assert MARKER not in response.text, (path, case)
    body: dict[str, Any] = response.json()
    if path == "/graphql":
        error = body["errors"][0]
        assert error["extensions"]["code"] in {"BAD_REQUEST", "BAD_USER_INPUT"}, (path, case)
        assert error["extensions"]["request_id"] == response.headers["x-request-id"]
    elif path.startswith("/oauth/"):
        assert body["error"] == "invalid_request", (path, case, body)
    else:
        assert isinstance(body["error"], str), (path, case, body)
    return body


async def test_every_malformed_body_is_a_clear_refusal_on_every_endpoint(
    session_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for path in ENDPOINTS:
        for case, (body, headers) in BODIES.items():
            response = await session_client.post(path, content=body, headers=headers)
            assert_refused(response, path, case)
    # The token endpoint reads forms: the same rules for its text.
    form = {"content-type": "application/x-www-form-urlencoded"}
    for body in (b"grant_type=%ff%fe", b"client_id=a%00b", b"client_id=%ED%A0%80"):
        assert_refused(
            await session_client.post("/oauth/token", content=body, headers=form),
            "/oauth/token",
            str(body),
        )
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "Traceback" not in logged
    assert MARKER not in logged


async def test_reasons_name_the_rule_broken(session_client: httpx.AsyncClient) -> None:
    expected = {
        "deep_array": (400, "too_deeply_nested"),
        "deep_but_complete": (400, "too_deeply_nested"),
        "null": (400, "invalid_json"),
        "invalid_utf8": (400, "invalid_utf8"),
        "latin1_charset": (415, "charset_must_be_utf8"),
        "long_integer": (400, "number_too_long"),
        "lone_surrogate": (400, "lone_surrogate"),
        "nul": (400, "nul_character"),
    }
    for case, (status, reason) in expected.items():
        body, headers = BODIES[case]
        response = await session_client.post("/auth/login", content=body, headers=headers)
        assert (response.status_code, response.json()) == (status, {"error": reason}), case


async def test_nul_and_surrogates_in_a_login_are_bad_input_not_an_outage(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    """A NUL reached PostgreSQL (503, as if the database were down) and a lone surrogate the
    password hasher (500). Both are refused before either, alike on both databases, and
    neither counts as a failed login."""
    for username, password in [
        ("doc\x00", PASSWORD),
        ("doc", PASSWORD + "\x00"),
        ("doc\ud800", PASSWORD),
        ("doc", "\udfff"),
    ]:
        content = json.dumps({"username": username, "password": password})
        response = await session_client.post("/auth/login", content=content, headers=JSON)
        assert response.status_code == 400
        assert response.json()["error"] in {"nul_character", "lone_surrogate"}
    assert not await AuditEvent.filter(event="LOGIN_FAILED").exists()
    ok = await session_client.post("/auth/login", json={"username": "doc", "password": PASSWORD})
    assert ok.status_code == 200


async def test_query_strings_are_checked_too(session_client: httpx.AsyncClient) -> None:
    for query in ("client_id=%00", "client_id=%ff", "state=%ED%A0%80"):
        response = await session_client.get(f"/oauth/authorize?{query}")
        assert_refused(response, "/oauth/authorize", query)


async def test_graphql_variables_in_a_get_are_decoded_by_the_same_rules(
    client: httpx.AsyncClient, world: World
) -> None:
    query = "query($m: String) { patients(mrn: $m) { totalCount } }"
    for variables in (
        "[" * 5000,
        '{"m": "\\ud800"}',
        '{"m": "a\\u0000"}',
        '{"m": ' + "1" * 5000 + "}",
    ):
        response = await client.get(
            "/graphql", params={"query": query, "variables": variables}, headers={AS_USER: "desk"}
        )
        assert_refused(response, "/graphql", variables[:20])


async def test_graphql_text_arguments_with_nul_or_surrogates_are_bad_user_input(
    client: httpx.AsyncClient, world: World
) -> None:
    """Issue 18, item 12: an MRN search holding a lone surrogate was a masked INTERNAL_ERROR."""
    literal = await gql(client, '{ patients(mrn: "MRN\\u0000") { totalCount } }', as_user="desk")
    assert literal.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert literal.json()["data"] is None
    query = "query($m: String) { patients(mrn: $m) { totalCount } }"
    for value in ("\ud800MRN", "MRN\udfff", "\x00"):
        response = await ascii_gql(client, query, {"m": value}, as_user="desk")
        body = assert_refused(response, "/graphql", repr(value))
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@st.composite
def awkward_text(draw: st.DrawFn) -> str:
    """Text with surrogates, NUL, noncharacters and other rarely valid code points."""
    odd = st.sampled_from(["\ud800", "\udfff", "\x00", "\ufffe", "\uffff", "\U0010ffff", "\x7f"])
    parts = draw(st.lists(st.one_of(odd, st.text(max_size=5)), min_size=1, max_size=6))
    return "".join(parts)


async def test_fuzzed_text_arguments_are_answered_or_refused_never_a_fault(
    client: httpx.AsyncClient, world: World
) -> None:
    query = "query($m: String) { patients(mrn: $m) { totalCount } }"
    examples: list[str] = []

    @settings(max_examples=60, database=None, deadline=None)
    @given(awkward_text())
    def collect(value: str) -> None:
        examples.append(value)

    collect()
    for value in examples:
        response = await ascii_gql(client, query, {"m": value}, as_user="desk")
        body = response.json()
        codes = {e["extensions"]["code"] for e in body.get("errors") or []}
        assert "INTERNAL_ERROR" not in codes, repr(value)
        # What the server reads: escaped to JSON, a high and a low surrogate pair up.
        received = json.loads(json.dumps(value))
        valid = "\x00" not in received and not any(0xD800 <= ord(c) <= 0xDFFF for c in received)
        if valid:
            assert response.status_code == 200, repr(value)
            assert body["data"]["patients"]["totalCount"] == 0, repr(value)
        else:
            assert response.status_code == 400, repr(value)
            assert codes == {"BAD_USER_INPUT"}, repr(value)


async def test_an_escaped_exception_is_a_json_500_without_internals(
    session_app: Starlette, session_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The catch-all (api/unexpected.py), reached by a route added to the real app that fails
    the way an unforeseen bug would, with a message that quotes data."""

    async def broken(_: Request) -> Response:
        raise RuntimeError(f"cannot handle {MARKER}")

    session_app.router.add_route("/auth/broken", broken, methods=["POST"])
    response = await session_client.post("/auth/broken", json={})
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error"}
    assert response.headers["cache-control"] == "no-store"  # still inside the header layer
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "unexpected RuntimeError in POST /auth/broken" in logged
    assert MARKER not in logged
