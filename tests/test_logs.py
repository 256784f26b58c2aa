"""Log lines: JSON with the fields a central store indexes, and no PHI value, password, token,
session cookie or key in any of them, at DEBUG, over a workload of every kind of request."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.settings import ConfigError, LogFormat, LogLevel, Settings
from tests.helpers import AS_USER, gql
from tests.log_capture import captured_logs, world_values
from tests.oauth_helpers import BASE, TOKEN_URL, partner, register
from tests.world import CHILD, OTHER, OWN, PASSWORD, USERS, World

READ = """query($id: ID!) {
  patient(id: $id) { givenName familyName ssn birthDate phone email mrn street city zip
    diagnoses { code description } notes { text } }
}"""
SEARCH = "query($mrn: String!) { patients(mrn: $mrn) { totalCount edges { node { id } } } }"
REGISTER = """mutation($input: RegisterPatientInput!) {
  registerPatient(input: $input) { id version ssn }
}"""
UPDATE = """mutation($id: ID!, $version: Int!, $input: PatientChanges!, $reason: String) {
  updatePatient(id: $id, version: $version, input: $input, reason: $reason) { id version }
}"""
NEW = {
    "mrn": "MRN-777001",
    "givenName": "Philippa",
    "familyName": "Vandersloot",
    "birthDate": "1977-07-07",
    "ssn": "934-77-1234",
    "phone": "312-555-0133",
    "email": "philippa.v@example.org",
    "street": "4 Tamarind Court",
    "city": "Lakewood",
    "zip": "80226",
}
CHANGED_PHONE = "312-555-0166"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, oauth_issuer=BASE)


def secrets_in(value: Any) -> Iterator[str]:
    """Every string of a response body long enough to be a token, a code or a secret."""
    if isinstance(value, dict):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from secrets_in(item)
    elif isinstance(value, str) and len(value) >= 16:
        yield value


async def workload(app: Starlette, http: httpx.AsyncClient, world: World) -> set[str]:
    """Reads by every role, searches, writes, failed and good logins, OAuth2 token calls and
    errors; returns the secrets the responses handed out."""
    handed_out: set[str] = set()
    for user in USERS:
        for patient in world.patients.values():
            await gql(http, READ, {"id": patient}, as_user=user)
        await gql(http, SEARCH, {"mrn": OWN["mrn"]}, as_user=user)
    # A search value typed into the document itself, and sent as a GET query string.
    await gql(http, f'{{ patients(mrn: "{OTHER["mrn"]}") {{ totalCount }} }}', as_user="doc")
    await http.get(
        "/graphql",
        params={"query": f'{{ patients(mrn: "{CHILD["mrn"]}") {{ totalCount }} }}'},
        headers={AS_USER: "doc"},
    )
    created = (await gql(http, REGISTER, {"input": NEW}, as_user="desk")).json()
    assert created.get("data"), created
    patient = created["data"]["registerPatient"]
    changes = {"phone": CHANGED_PHONE, "ssn": OWN["ssn"]}
    await gql(http, UPDATE, {"id": patient["id"], "version": patient["version"],
                             "input": changes, "reason": "moved"}, as_user="desk")  # fmt: skip
    # Refused writes: the values are in the request, never in a line.
    await gql(http, UPDATE, {"id": world.patients["own"], "version": 1,
                             "input": {"ssn": NEW["ssn"]}}, as_user="billing")  # fmt: skip
    await gql(http, REGISTER, {"input": {**NEW, "birthDate": OWN["ssn"]}}, as_user="desk")
    for password in ("wrong " + PASSWORD, PASSWORD.upper(), OWN["ssn"], PASSWORD):
        login = await http.post("/auth/login", json={"username": "nurse", "password": password})
        handed_out |= set(secrets_in(login.json()))
    await http.post("/auth/login", json={"username": OWN["ssn"], "password": PASSWORD})
    client = await register(http_clock(), "patient.read phi.demographics")
    assert client.secret is not None
    handed_out.add(client.secret)
    async with partner(app, client.client.public_id, client.secret) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    handed_out |= set(secrets_in(token))
    await http.post("/graphql", json={"query": "{ __typename }"},
                    headers={"authorization": f"Bearer {token['access_token']}"})  # fmt: skip
    await http.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                    auth=(client.client.public_id, "not-" + client.secret))  # fmt: skip
    # Errors: a body that is not JSON, a document that does not parse, an unknown path.
    await http.post("/graphql", content=b'{"query": "' + OWN["ssn"].encode(),
                    headers={"content-type": "application/json", AS_USER: "doc"})  # fmt: skip
    await gql(http, f"{{ {OWN['family_name']} }}", as_user="doc")
    await http.get(f"/patients/{OWN['ssn']}", cookies={"phigate_session": "c" * 43})
    return handed_out


def http_clock() -> Any:
    from api.clock import SystemClock

    return SystemClock()


def phi_values() -> set[str]:
    return world_values() | {v for v in [*NEW.values(), CHANGED_PHONE] if len(v) > 5}


async def test_no_phi_password_token_or_key_reaches_a_log_line(
    app: Starlette, client: httpx.AsyncClient, world: World, master_key: str
) -> None:
    with captured_logs(LogLevel.DEBUG) as buffer:
        handed_out = await workload(app, client, world)
    lines = buffer.getvalue().splitlines()
    assert len(lines) > 50  # the access log alone: one line a request
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    forbidden = phi_values() | handed_out | {PASSWORD, PASSWORD.upper(), master_key}
    forbidden |= {"c" * 43, master_key.rstrip("=")}
    leaks = [(value, line) for line in lines for value in forbidden if value in line]
    assert leaks == []
    access = [r for r in records if r["logger"] == "phigate.access"]
    assert {"time", "level", "logger", "message", "request_id", "principal", "route", "status",
            "duration_ms"} <= set(access[0])  # fmt: skip
    assert {r["route"] for r in access} >= {"/graphql", "/auth/login", "/oauth/token", "unmatched"}
    assert {r["principal"] for r in access} >= {"-"}
    assert len({r["request_id"] for r in access}) == len(access)


async def test_a_line_logged_for_a_request_names_the_request(
    client: httpx.AsyncClient, world: World
) -> None:
    with captured_logs(LogLevel.DEBUG) as buffer:
        response = await gql(client, "{ nosuchfield }", as_user="doc")
    records = [json.loads(line) for line in buffer.getvalue().splitlines()]
    request_id = response.headers["x-request-id"]
    assert [r["request_id"] for r in records] == [request_id] * len(records)
    assert records[-1]["principal"] != "-"  # the public id of the user who asked
    assert records[-1]["principal"] not in USERS


def test_log_settings_are_parsed_with_clear_errors(tmp_path: Path) -> None:
    base = {"PHIGATE_DATA_DIR": str(tmp_path)}
    parsed = Settings.from_env({**base, "PHIGATE_LOG_FORMAT": "json", "PHIGATE_LOG_LEVEL": "debug"})
    assert (parsed.log_format, parsed.log_level) == (LogFormat.JSON, LogLevel.DEBUG)
    assert Settings.from_env(base).log_format is LogFormat.TEXT
    with pytest.raises(ConfigError, match="PHIGATE_LOG_FORMAT must be one of: text, json"):
        Settings.from_env({**base, "PHIGATE_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="PHIGATE_LOG_LEVEL must be one of"):
        Settings.from_env({**base, "PHIGATE_LOG_LEVEL": "loud"})
    assert Settings.from_env(base).metrics_address is None
    on = Settings.from_env({**base, "PHIGATE_METRICS_ADDRESS": "127.0.0.1:9464"})
    assert on.metrics_address == ("127.0.0.1", 9464)
    for wrong in ("9464", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:8443"):
        with pytest.raises(ConfigError, match="PHIGATE_METRICS_ADDRESS"):
            Settings.from_env({**base, "PHIGATE_METRICS_ADDRESS": wrong})


def test_the_scan_sees_what_a_phigate_logger_writes() -> None:
    """The capture is the configured handler itself: a value logged is a value found."""
    with captured_logs(LogLevel.DEBUG) as buffer:
        logging.getLogger("phigate.anything").debug("leaked %s", OWN["ssn"])
        logging.getLogger("tortoise.db_client").debug("SELECT ... %s", OWN["ssn"])
        logging.getLogger("tortoise").warning("a library's warning")
    lines = buffer.getvalue().splitlines()
    assert [json.loads(line)["message"] for line in lines] == [
        f"leaked {OWN['ssn']}",
        "a library's warning",
    ]
