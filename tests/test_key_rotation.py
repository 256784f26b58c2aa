"""`phigate keys`: rotation is primary at once, resumable, audited, and never interrupts reads."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.settings import Settings
from crypto.keyring import Keyring
from models import AuditEvent, DataKey, KeyPurpose, User
from models.tally import ReportCell, ReportContribution
from ops.key_status import key_status
from ops.tally import rebuild
from permissions.deidentify import report_date
from tests.conftest import https_client, running
from tests.helpers import TestAuthenticator, gql
from tests.ops import phigate
from tests.world import CLINICAL, OTHER, OWN, World, build_world

QUERY = """
query($id: ID!) {
  patient(id: $id) { givenName familyName ssn mrn phone diagnoses { code description } }
}
"""
TOTP_SEED = "JBSWY3DPEHPK3PXP"
AGGREGATE = "{ report { aggregate(by: [AGE_BAND]) { total suppressed } } }"


@pytest.fixture
async def fast_app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app polling for new data keys often, so a test need not wait for the default."""
    fast = dataclasses.replace(settings, keyring_refresh=timedelta(milliseconds=100))
    async with running(create_app(fast, authenticate=TestAuthenticator())) as application:
        yield application


@pytest.fixture
async def fast_world(fast_app: Starlette) -> World:
    keyring: Keyring = fast_app.state.keyring
    world = await build_world(keyring)
    # A sealed credential (SecretField) must be rotated like PHI.
    doc = await User.get(username="doc")
    doc.seal(keyring, totp_secret=TOTP_SEED)
    await doc.save()
    # So is the report tally's sealed state.
    await rebuild(keyring, report_date())
    return world


def _versions(status: dict[str, object]) -> dict[str, int]:
    data = status["data"]
    assert isinstance(data, dict)
    totals: dict[str, int] = data["totals"]
    return totals


async def _read_own(http: httpx.AsyncClient, world: World) -> None:
    response = await gql(http, QUERY, {"id": world.patients["own"]}, as_user="doc")
    body = response.json()
    assert "errors" not in body, body
    patient = body["data"]["patient"]
    assert (patient["givenName"], patient["ssn"], patient["mrn"]) == (
        OWN["given_name"],
        OWN["ssn"],
        OWN["mrn"],
    )
    assert patient["diagnoses"] == [
        {"code": CLINICAL["diagnosis"]["code"], "description": CLINICAL["diagnosis"]["description"]}
    ]


async def test_rotate_is_resumable_and_audited(
    fast_app: Starlette, fast_world: World, settings: Settings
) -> None:
    before = await phigate(settings, "keys", "status", "--json")
    assert before.returncode == 0, before.stderr
    values = sum(_versions(before.json()).values())
    assert _versions(before.json()) == {"1": values}
    assert values > 20

    # Interrupted after two batches of three rows: the new key is primary, most rows are not.
    first = await phigate(
        settings, "keys", "rotate", "--grace", "0", "--batch-size", "3", "--max-batches", "2"
    )
    assert first.returncode == 0, first.stderr
    assert "data key v2 created" in first.stdout
    assert "run `phigate keys reencrypt` to continue" in first.stdout
    assert "re-encrypting to v2 [" in first.stderr
    middle = (await phigate(settings, "keys", "status", "--json")).json()
    assert middle["data"]["primary"] == 2
    moved = _versions(middle)
    assert 0 < moved["2"] < values
    assert moved["1"] + moved["2"] == values

    # Resuming creates no new key and finishes the rest.
    rest = await phigate(settings, "keys", "reencrypt", "--grace", "0", "--batch-size", "3")
    assert rest.returncode == 0, rest.stderr
    assert f"{values - moved['2']} values re-encrypted" in rest.stdout
    assert "0 remaining on older versions" in rest.stdout
    after = await phigate(settings, "keys", "status")
    assert after.returncode == 0
    assert "v2*" in after.stdout
    assert (await key_status()).totals == {2: values}
    assert await DataKey.filter(purpose=KeyPurpose.DATA).count() == 2

    events = await AuditEvent.filter(event__startswith="KEY_").order_by("id")
    assert [e.event for e in events] == ["KEY_ROTATED", "KEY_REENCRYPTED", "KEY_REENCRYPTED"]
    assert {(e.role, e.purpose) for e in events} == {("admin", "SECURITY")}
    assert events[0].actor.startswith("cli:")
    assert events[0].request_id == events[1].request_id != events[2].request_id
    assert events[2].detail is not None
    assert "0 remaining" in events[2].detail

    # The running app learnt v2 by itself and opens every value, old rows and new.
    keyring: Keyring = fast_app.state.keyring
    for _ in range(100):
        if keyring.primary == 2:
            break
        await asyncio.sleep(0.1)
    assert keyring.primary == 2
    async with https_client(fast_app) as http:
        await _read_own(http, fast_world)
    doc = await User.get(username="doc")
    assert doc.totp_secret is not None
    assert Keyring.version_of(doc.totp_secret.blob) == 2
    assert keyring.open(doc.totp_secret) == TOTP_SEED
    tally = [row.key for row in await ReportCell.all()]
    tally += [row.facts for row in await ReportContribution.all()]
    assert tally
    assert {Keyring.version_of(sealed.blob) for sealed in tally} == {2}
    async with https_client(fast_app) as http:
        body = (await gql(http, AGGREGATE, as_user="rae")).json()
    assert body == {"data": {"report": {"aggregate": {"total": None, "suppressed": 3}}}}


async def test_reads_keep_working_during_rotation(
    fast_app: Starlette, fast_world: World, settings: Settings
) -> None:
    reads = 0
    async with https_client(fast_app) as http:
        # One row per transaction and a grace period of ten refresh intervals: rotation runs
        # in its own process while this app answers queries in a loop.
        rotation = asyncio.create_task(
            phigate(settings, "keys", "rotate", "--grace", "1", "--batch-size", "1")
        )
        while not rotation.done():
            await _read_own(http, fast_world)
            other = await gql(
                http, "query($id: ID!) { patient(id: $id) { familyName } }",
                {"id": fast_world.patients["other"]}, as_user="desk",
            )  # fmt: skip
            assert other.json() == {"data": {"patient": {"familyName": OTHER["family_name"]}}}
            reads += 1
        result = rotation.result()
        assert result.returncode == 0, result.stderr
        assert "0 rows changed concurrently" in result.stdout
        await _read_own(http, fast_world)
    assert reads > 0
    status = await key_status()
    assert set(status.totals) == {2}
    assert status.columns["app_user.totp_secret"] == {2: 1}


async def test_wrong_master_key_changes_nothing(
    fast_app: Starlette, fast_world: World, settings: Settings
) -> None:
    wrong = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    result = await phigate(settings, "keys", "rotate", "--grace", "0", master_key=wrong)
    assert result.returncode == 1
    assert "cannot be unwrapped (wrong master key?)" in result.stderr
    assert "Traceback" not in result.stderr
    assert await DataKey.filter(purpose=KeyPurpose.DATA).count() == 1
    assert await AuditEvent.filter(event__startswith="KEY_").count() == 0
