"""Metrics through the real app: what a workload counts, that no label carries a user, patient
or PHI value, and (with 2 real uvicorn workers) that the supervisor's listener sums them."""

from __future__ import annotations

import dataclasses
import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from api.metrics_sampler import sample
from api.settings import Settings
from tests.helpers import gql
from tests.live import free_port, live_server
from tests.world import CHILD, CLINICAL, OTHER, OWN, PASSWORD, USERS, World

READ = "query($id: ID!) { patient(id: $id) { givenName ssn mrn diagnoses { code } } }"
NAMED = "query AliciaQuintanilla($id: ID!) { patient(id: $id) { ssn } }"
SEARCH = "query($mrn: String!) { patients(mrn: $mrn) { totalCount edges { node { id } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Two failed logins lock an account (before the back-off would slow a third)."""
    return dataclasses.replace(settings, lockout_threshold=2)


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def reads_of_a_patient() -> float:
    return sum(
        value("phigate_graphql_operations_total", operation="query.patient", outcome=outcome)
        for outcome in ("ok", "error")
    )


def label_values() -> Iterator[str]:
    for family in REGISTRY.collect():
        for sample_ in family.samples:
            yield from sample_.labels.values()


async def test_a_workload_is_counted_and_no_label_names_anyone(
    client: httpx.AsyncClient, world: World
) -> None:
    before = {
        "allow": value("phigate_phi_decisions_total", decision="ALLOW"),
        "deny": value("phigate_phi_decisions_total", decision="DENY"),
        "mask": value("phigate_phi_decisions_total", decision="MASK"),
        "reads": reads_of_a_patient(),
        "invalid": value("phigate_graphql_operations_total", operation="invalid", outcome="error"),
        "failed": value("phigate_auth_events_total", event="LOGIN_FAILED"),
        "locked": value("phigate_auth_events_total", event="LOCKOUT"),
        "audit": value("phigate_audit_write_seconds_count"),
        "http": value("phigate_http_requests_total", route="/graphql", status="200"),
        "unmatched": value("phigate_http_requests_total", route="unmatched", status="404"),
    }
    own = world.patients["own"]
    for user in ("doc", "nurse", "desk", "billing", "alice"):
        assert (await gql(client, READ, {"id": own}, as_user=user)).status_code == 200
    await gql(client, NAMED, {"id": own}, as_user="doc")
    await gql(client, SEARCH, {"mrn": OWN["mrn"]}, as_user="doc")
    await gql(client, "{ nosuchfield }", as_user="doc")
    await client.get(f"/patients/{OWN['ssn']}")
    statuses = [
        (await client.post("/auth/login", json={"username": "rae", "password": "nope"})).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 429]

    assert value("phigate_phi_decisions_total", decision="ALLOW") > before["allow"]
    assert value("phigate_phi_decisions_total", decision="DENY") > before["deny"]
    assert value("phigate_phi_decisions_total", decision="MASK") > before["mask"]
    # The named one too, under its root field; the front desk's is an error (diagnoses denied).
    assert reads_of_a_patient() - before["reads"] == 6
    invalid = value("phigate_graphql_operations_total", operation="invalid", outcome="error")
    assert invalid - before["invalid"] == 1
    assert value("phigate_auth_events_total", event="LOGIN_FAILED") - before["failed"] == 2
    assert value("phigate_auth_events_total", event="LOCKOUT") - before["locked"] == 1
    # One write per request that read PHI (the search found the patient by their MRN).
    assert value("phigate_audit_write_seconds_count") - before["audit"] == 7
    assert value("phigate_http_requests_total", route="/graphql", status="200") > before["http"]
    unmatched = value("phigate_http_requests_total", route="unmatched", status="404")
    assert unmatched - before["unmatched"] == 1

    people = {*USERS, *world.patients.values()}
    phi = {v for values in (OWN, OTHER, CHILD) for v in values.values()} | {PASSWORD}
    phi |= {v for values in CLINICAL.values() for v in values.values()}
    labels = set(label_values())
    assert labels.isdisjoint(people)
    assert [label for label in labels if any(v in label for v in phi)] == []
    assert [label for label in labels if "Alicia" in label or "/patients/" in label] == []


async def test_sealing_lag_and_pool_use_are_sampled(
    client: httpx.AsyncClient, world: World, database_url: str
) -> None:
    await gql(client, READ, {"id": world.patients["own"]}, as_user="doc")
    await sample()
    # Rows settle for 10 s before they are sealed: the read's records are still waiting.
    assert value("phigate_audit_unsealed_rows") >= 1
    assert 0 <= value("phigate_audit_oldest_unsealed_seconds") < 60
    in_use = REGISTRY.get_sample_value("phigate_db_pool_connections", {"state": "max"})
    if database_url.startswith("sqlite"):
        assert in_use is None or in_use >= 0  # no pool; a PostgreSQL test may have set it
    else:
        assert in_use is not None
        assert in_use >= 1


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_two_workers_are_summed_on_a_listener_of_their_own(
    settings: Settings, tmp_path: Path, master_key: str
) -> None:
    data = tmp_path / "live"
    data.mkdir()
    metrics_port = free_port()
    env = {
        "PHIGATE_MASTER_KEY": master_key,
        "PHIGATE_METRICS_ADDRESS": f"127.0.0.1:{metrics_port}",
        "PHIGATE_AUDIT_SEAL_INTERVAL": "1",
    }
    with live_server(env, data, "--workers", "2") as server:
        context = ssl.create_default_context(cafile=server.cert)
        requests = 40
        for _ in range(requests):
            # A new connection each: the kernel spreads them over both workers' sockets.
            with httpx.Client(base_url=server.url, verify=context) as http:
                assert http.get("/healthz").status_code == 200
        assert httpx.Client(base_url=server.url, verify=context).get("/metrics").status_code == 404
        samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
        counted = samples[
            ("phigate_http_requests_total", (("route", "/healthz"), ("status", "200")))
        ]
        # live_server's own readiness polls hit /healthz too.
        assert counted >= requests
        pids = {
            match.group(1)
            for path in (data / "metrics").glob("counter_*.db")
            if (match := re.fullmatch(r"counter_(\d+)\.db", path.name))
        }
        # Both workers counted (a third: a worker uvicorn restarted on a busy machine).
        assert len(pids) >= 2, pids
    assert settings.metrics_address is None  # off unless set
