"""Concurrent writes across two real `phigate serve` processes on one database: of two
updates of one patient's version, sent at once to different processes, exactly one wins."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live import live_server, seeded_password, sign_in

UPDATE = """
mutation($id: ID!, $version: Int!, $phone: String!) {
  updatePatient(id: $id, version: $version, input: { phone: $phone }) { version }
}
"""
READ = "query($id: ID!) { patient(id: $id) { version phone history { version } } }"


@pytest.fixture
def env(database_url: str, master_key: str) -> dict[str, str]:
    return {"PHIGATE_DATABASE_URL": database_url, "PHIGATE_MASTER_KEY": master_key}


def test_two_processes_update_one_version_exactly_one_wins(
    env: dict[str, str], tmp_path: Path, oathtool: str
) -> None:
    password = seeded_password(env, tmp_path, "desk.ada", patients=3)
    with (
        live_server(env, tmp_path) as first,
        live_server(env, tmp_path) as second,
        first.client() as a,
        second.client() as b,
    ):
        auth = sign_in(a, oathtool, "desk.ada", password)
        page = a.post(
            "/graphql",
            json={"query": "{ patients(first: 1) { edges { node { id version } } } }"},
            headers=auth,
        ).json()
        [edge] = page["data"]["patients"]["edges"]
        patient, version = edge["node"]["id"], edge["node"]["version"]
        start = threading.Barrier(2)
        answers: list[dict[str, Any]] = []

        def send(http: httpx.Client, phone: str) -> None:
            variables = {"id": patient, "version": version, "phone": phone}
            start.wait()
            response = http.post(
                "/graphql", json={"query": UPDATE, "variables": variables}, headers=auth
            )
            answers.append(response.json())

        threads = [
            threading.Thread(target=send, args=(a, "217-555-0101")),
            threading.Thread(target=send, args=(b, "217-555-0202")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        outcomes = sorted(
            tuple(e["extensions"]["code"] for e in answer.get("errors", [])) for answer in answers
        )
        assert outcomes == [(), ("CONFLICT",)], answers
        [won] = [answer for answer in answers if "errors" not in answer]
        assert won["data"]["updatePatient"]["version"] == version + 1
        after = b.post("/graphql", json={"query": READ, "variables": {"id": patient}}, headers=auth)
        read = after.json()["data"]["patient"]
        assert read["version"] == version + 1
        assert read["phone"] in {"217-555-0101", "217-555-0202"}
        assert [r["version"] for r in read["history"]] == [version]
