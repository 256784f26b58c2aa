"""`/healthz` and `/readyz` as a load balancer sees them: no login, 200 or 503, and a body
that names the failed check's kind and nothing else."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY
from tortoise import connections

from api.db import APP
from api.db_state import shipped_migrations
from audit.health import FAILURES_IN_A_ROW
from tests.helpers import gql
from tests.world import OWN, World

READ = "query($id: ID!) { patient(id: $id) { givenName ssn } }"


async def test_liveness_and_readiness_need_no_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_a_shipped_migration_not_applied_makes_the_worker_not_ready(
    client: httpx.AsyncClient,
) -> None:
    latest = max(shipped_migrations())
    db = connections.get("default")
    _, rows = await db.execute_query(
        f"SELECT app, name, applied_at FROM tortoise_migrations WHERE name = '{latest}'"  # noqa: S608
    )
    assert rows, "the test database is migrated"
    await db.execute_script(f"DELETE FROM tortoise_migrations WHERE name = '{latest}'")  # noqa: S608
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"migrations": "fail"}}
    # Applied (here: recorded again), the worker is ready without a restart.
    values = "($1, $2, $3)" if db.capabilities.dialect == "postgres" else "(?, ?, ?)"
    await db.execute_query(
        f"INSERT INTO tortoise_migrations (app, name, applied_at) VALUES {values}",  # noqa: S608
        [APP, latest, rows[0]["applied_at"]],
    )
    assert (await client.get("/readyz")).json() == {"status": "ready"}


async def test_audit_writes_failing_in_a_row_make_the_worker_not_ready(
    client: httpx.AsyncClient, world: World
) -> None:
    db = connections.get("default")
    failures = ("phigate_audit_write_failures_total", {"kind": "read"})
    errors = (
        "phigate_graphql_operations_total",
        {"operation": "query.patient", "outcome": "error"},
    )
    before = [REGISTRY.get_sample_value(*failures) or 0, REGISTRY.get_sample_value(*errors) or 0]
    await db.execute_script("ALTER TABLE audit_event RENAME TO audit_event_gone")
    try:
        for attempt in range(FAILURES_IN_A_ROW):
            assert (await client.get("/readyz")).status_code == 200, attempt  # one is bad luck
            read = await gql(client, READ, {"id": world.patients["own"]}, as_user="doc")
            assert read.json()["data"] is None
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable", "checks": {"audit": "fail"}}
        assert OWN["ssn"] not in response.text
        after = [REGISTRY.get_sample_value(*failures), REGISTRY.get_sample_value(*errors)]
        assert after == [before[0] + FAILURES_IN_A_ROW, before[1] + FAILURES_IN_A_ROW]
    finally:
        await db.execute_script("ALTER TABLE audit_event_gone RENAME TO audit_event")
    read = await gql(client, READ, {"id": world.patients["own"]}, as_user="doc")
    assert read.json()["data"]["patient"]["ssn"] == OWN["ssn"]
    assert (await client.get("/readyz")).json() == {"status": "ready"}
