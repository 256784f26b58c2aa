"""Trusted documents: registered by the CLI (a real process on the real database), run by
hash over HTTP in both conventions, and in `required` mode nothing else runs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings, TrustedDocuments
from models import TrustedDocument
from tests.conftest import https_client, running
from tests.helpers import AS_USER, TestAuthenticator
from tests.test_cli import phigate
from tests.world import OWN, World, build_world

DOCUMENT = """query OwnSsn($id: ID!) { patient(id: $id) { ssn } }
query Count { patients { totalCount } }
"""
HASH = hashlib.sha256(DOCUMENT.encode()).hexdigest()


def _env(settings: Settings) -> dict[str, str]:
    assert settings.master_key is not None
    return {
        "PHIGATE_DATABASE_URL": settings.database_url,
        "PHIGATE_MASTER_KEY": settings.master_key,
        "PHIGATE_DATA_DIR": str(settings.data_dir),
    }


async def documents(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(phigate, "documents", *args, env=_env(settings))


@pytest.fixture
def document_file(tmp_path: Path) -> Path:
    path = tmp_path / "ward.graphql"
    path.write_text(DOCUMENT)
    return path


@pytest.fixture
async def required(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, World]]:
    strict = replace(settings, trusted_documents=TrustedDocuments.REQUIRED)
    async with running(create_app(strict, authenticate=TestAuthenticator())) as application:
        world = await build_world(application.state.keyring)
        async with https_client(application) as http:
            yield http, world


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/graphql", json=body, headers={AS_USER: "doc"})


def refusal(response: httpx.Response) -> tuple[int, str, str]:
    [error] = response.json()["errors"]
    assert "data" not in response.json()
    return response.status_code, error["extensions"]["code"], error["extensions"]["reason"]


async def test_register_list_and_run_by_hash(
    app: Starlette, client: httpx.AsyncClient, world: World, settings: Settings,
    document_file: Path,
) -> None:  # fmt: skip
    registered = await documents(settings, "register", str(document_file))
    assert registered.returncode == 0, registered.stderr
    assert f"sha256:{HASH}  OwnSsn Count" in registered.stdout
    again = await documents(settings, "register", str(document_file))
    assert "already registered" in again.stdout
    assert await TrustedDocument.all().count() == 1
    listed = await documents(settings, "list")
    assert f"sha256:{HASH}" in listed.stdout
    assert "OwnSsn Count" in listed.stdout
    variables = {"id": world.patients["own"]}
    expected = {"data": {"patient": {"ssn": OWN["ssn"]}}}
    apollo = {
        "operationName": "OwnSsn",
        "variables": variables,
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": HASH}},
    }
    assert (await post(client, apollo)).json() == expected
    draft = {"documentId": f"sha256:{HASH}", "operationName": "OwnSsn", "variables": variables}
    assert (await post(client, draft)).json() == expected
    by_get = await client.get(
        "/graphql",
        params={"documentId": f"sha256:{HASH}", "operationName": "Count"},
        headers={AS_USER: "doc"},
    )
    assert by_get.json() == {"data": {"patients": {"totalCount": 1}}}
    # Optional mode: text runs as before, and a hash with its own text runs that text.
    assert (await post(client, {"query": DOCUMENT, "operationName": "Count"})).status_code == 200
    unregistered = "query Other { patients { totalCount } }"
    other_hash = hashlib.sha256(unregistered.encode()).hexdigest()
    persisted = {"version": 1, "sha256Hash": other_hash}
    with_text = await post(
        client, {"query": unregistered, "extensions": {"persistedQuery": persisted}}
    )
    assert with_text.json() == {"data": {"patients": {"totalCount": 1}}}
    # ... and registers nothing.
    assert await TrustedDocument.filter(sha256=other_hash).count() == 0
    assert refusal(await post(client, {"extensions": {"persistedQuery": persisted}})) == (
        400, "PERSISTED_QUERY_NOT_FOUND", "persisted_query_not_found",
    )  # fmt: skip


async def test_required_mode_refuses_every_other_document_before_parsing(
    required: tuple[httpx.AsyncClient, World], settings: Settings, document_file: Path
) -> None:
    client, world = required
    assert (await documents(settings, "register", str(document_file))).returncode == 0
    id_required = (400, "PERSISTED_QUERY_ID_REQUIRED", "trusted_document_required")
    # Not even parsed: a text that does not parse is refused the same way.
    assert refusal(await post(client, {"query": "{ patients { totalCount } }"})) == id_required
    assert refusal(await post(client, {"query": "{{{ not graphql"})) == id_required
    as_get = await client.get(
        "/graphql", params={"query": "{ patients { totalCount } }"}, headers={AS_USER: "doc"}
    )
    assert refusal(as_get) == id_required
    # A hash with its text would register it, with Apollo: here it is refused.
    unregistered = "query Other { patients { totalCount } }"
    other = hashlib.sha256(unregistered.encode()).hexdigest()
    apq = {"query": unregistered, "extensions": {"persistedQuery": {"sha256Hash": other}}}
    assert refusal(await post(client, apq)) == (
        400, "PERSISTED_QUERY_NOT_FOUND", "persisted_query_not_found",
    )  # fmt: skip
    assert refusal(await post(client, {"documentId": f"sha256:{other}"}))[1] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
    mismatched = {"query": DOCUMENT + " ", "documentId": HASH}
    assert refusal(await post(client, mismatched)) == (
        400, "BAD_REQUEST", "document_does_not_match_its_hash",
    )  # fmt: skip
    for bad in ("sha256:xyz", 12, "sha1:" + "0" * 40):
        assert refusal(await post(client, {"documentId": bad}))[2] == "document_id_invalid"
    both = {"documentId": HASH, "extensions": {"persistedQuery": {"sha256Hash": other}}}
    assert refusal(await post(client, both))[2] == "document_ids_differ"
    # The registered document runs, by either convention, and with its exact text too.
    body = {
        "documentId": HASH,
        "operationName": "OwnSsn",
        "variables": {"id": world.patients["own"]},
    }
    assert (await post(client, body)).json() == {"data": {"patient": {"ssn": OWN["ssn"]}}}
    exact = {"query": DOCUMENT, "documentId": HASH, "operationName": "Count"}
    assert (await post(client, exact)).json() == {"data": {"patients": {"totalCount": 1}}}
    assert "persisted_query" not in json.dumps(
        (await post(client, {"documentId": HASH, "operationName": "Count"})).json()
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{ patients { totalCount } }", "every operation needs a name"),
        ("query Broken { patients {", "does not parse"),
        ("query Typo { patientz { totalCount } }", "not valid against the schema"),
        ("fragment F on Patient { mrn }", "not valid"),
    ],
)
async def test_a_file_that_cannot_be_registered_registers_nothing(
    settings: Settings, tmp_path: Path, document_file: Path, text: str, why: str,
    database_url: str,
) -> None:  # fmt: skip
    bad = tmp_path / "bad.graphql"
    bad.write_text(text)
    result = await documents(settings, "register", str(document_file), str(bad))
    assert result.returncode == 2
    assert f"{bad}: " in result.stderr
    assert why in result.stderr
    assert "Traceback" not in result.stderr
    listed = await documents(settings, "list")
    assert listed.returncode == 0
    assert listed.stdout == ""


async def test_an_apollo_manifest_registers_each_operation_by_its_id(
    client: httpx.AsyncClient, world: World, settings: Settings, tmp_path: Path
) -> None:
    bodies = ["query Count { patients { totalCount } }", "query Typename { __typename }"]
    operations = [
        {"id": hashlib.sha256(body.encode()).hexdigest(), "name": body.split()[1],
         "type": "query", "body": body}
        for body in bodies
    ]  # fmt: skip
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 1,
                    "operations": operations})
    )  # fmt: skip
    result = await documents(settings, "register", str(manifest))
    assert result.returncode == 0, result.stderr
    for operation in operations:
        assert f"sha256:{operation['id']}  {operation['name']}" in result.stdout
    persisted = {"version": 1, "sha256Hash": operations[0]["id"]}
    response = await post(client, {"extensions": {"persistedQuery": persisted}})
    assert response.json() == {"data": {"patients": {"totalCount": 1}}}
    not_a_manifest = tmp_path / "other.json"
    not_a_manifest.write_text(json.dumps({"operations": []}))
    refused = await documents(settings, "register", str(not_a_manifest))
    assert refused.returncode == 2
    assert "is not an apollo-persisted-query-manifest" in refused.stderr
