"""Exactly one audit write per request, whatever the number of PHI fields, counted by the
database engine itself (SQLite's statement trace, PostgreSQL's pg_stat_statements); and the
caller's break-glass grants read once per request, however many of its fields ask.

On PostgreSQL the audit INSERT is a CTE of the statement that also adds the request's patients
to the export window, so statements are matched by what they contain, not how they start."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
from tortoise import connections

from models import AuditEvent
from tests.helpers import audited_fields, gql
from tests.world import World

QUERY = """
query($id: ID!) {
  patient(id: $id) {
    mrn givenName familyName birthDate ssn phone email street city zip
    encounters { startDate } diagnoses { code description recordedDate }
    observations { code value effectiveDate } notes { text authoredDate }
  }
  again: patient(id: $id) { mrn givenName familyName ssn }
}
"""


@contextlib.asynccontextmanager
async def statements(containing: str) -> AsyncIterator[Callable[[], int]]:
    """Yields a function returning how many statements containing `containing` (any case) the
    engine executed."""
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute_query("SELECT pg_stat_statements_reset()")
        counted: list[int] = []
        yield lambda: counted[0]
        rows = await conn.execute_query_dict(
            "SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND query ILIKE $1",
            [f"%{containing}%"],
        )
        counted.append(int(rows[0]["n"]))
        return
    executed: list[str] = []
    driver = conn._connection  # aiosqlite runs sqlite3 in its own thread: trace it there
    await driver._execute(driver._conn.set_trace_callback, executed.append)
    try:
        yield lambda: sum(containing.upper() in s.upper() for s in executed)
    finally:
        await driver._execute(driver._conn.set_trace_callback, None)


async def test_one_audit_statement_per_request(client: httpx.AsyncClient, world: World) -> None:
    async with statements("INSERT INTO audit_event") as inserts:
        response = await gql(client, QUERY, {"id": world.patients["own"]}, as_user="doc")
    assert "errors" not in response.json()
    request_id = response.headers["x-request-id"]
    assert len(await audited_fields(request_id)) == 23  # 10+1+3+3+2 fields, 4 more under the alias
    assert await AuditEvent.filter(request_id=request_id).count() == 1  # one patient, all ALLOW
    assert inserts() == 1


async def test_break_glass_grants_read_once_per_request(
    client: httpx.AsyncClient, world: World
) -> None:
    pages = "{ a: patients(first: 1) { totalCount } b: patients(first: 2) { totalCount } }"
    async with statements('FROM "break_glass_grant"') as reads:
        response = await gql(client, pages, as_user="doc")
    body = response.json()
    assert "errors" not in body
    assert body["data"]["a"]["totalCount"] == body["data"]["b"]["totalCount"] > 0
    assert reads() == 1


async def test_a_care_team_patient_is_found_without_reading_grants(
    client: httpx.AsyncClient, world: World
) -> None:
    """Grants only reach patients outside the care team: a hit on the team needs none, a miss
    asks once."""
    one = "query($id: ID!) { patient(id: $id) { id } }"
    async with statements('FROM "break_glass_grant"') as reads:
        response = await gql(client, one, {"id": world.patients["own"]}, as_user="doc")
    assert response.json()["data"]["patient"]["id"] == world.patients["own"]
    assert reads() == 0
    async with statements('FROM "break_glass_grant"') as reads:
        response = await gql(client, one, {"id": world.patients["other"]}, as_user="doc")
    assert response.json()["data"]["patient"] is None
    assert reads() == 1
