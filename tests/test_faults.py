"""A fault (an error that is neither phigate's answer nor graphql-core's verdict on the request)
reaches the client as "Internal error" at its location and path, and the log names its type
and place, never its message: exception messages may quote data."""

from __future__ import annotations

import httpx
import pytest
from tortoise import connections

from tests.helpers import gql, placeholder
from tests.world import World

BOGUS = "status-7f3a9c"  # stands in for data a message could quote


async def test_a_fault_is_masked_and_logged_without_its_message(
    client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # A real fault: a stored value the schema cannot represent.
    await connections.get("default").execute_query(
        f"UPDATE diagnosis SET status = {placeholder()}",  # noqa: S608
        [BOGUS],
    )
    query = """query($id: ID!) { patient(id: $id) { mrn diagnoses { status } } }"""
    response = await gql(client, query, {"id": world.patients["own"]}, as_user="doc")
    body = response.json()
    assert response.status_code == 200
    faults = [e for e in body["errors"] if e["extensions"]["code"] == "INTERNAL_ERROR"]
    assert faults
    assert {e["message"] for e in faults} == {"Internal error"}
    assert faults[0]["path"][:2] == ["patient", "diagnoses"]
    assert BOGUS not in response.text
    assert body["data"]["patient"]["diagnoses"] is None
    logged = [r.getMessage() for r in caplog.records if r.name == "phigate.graphql"]
    assert logged
    assert all(m.startswith("unexpected ") for m in logged)
    assert not any(BOGUS in m for m in logged)
