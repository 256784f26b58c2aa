"""Key custody in an HSM (SoftHSM2 through PKCS#11) and in AWS KMS (moto's server): the app
serves PHI, keys rotate, `keys status` and backups work; a provider that goes away stops PHI
and readiness at once (fail closed); a local deployment moves its keys over with one command."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive, UserAlreadyLoggedIn
from starlette.applications import Starlette

from api.app import create_app
from api.keys import key_provider
from api.settings import ConfigError, KeyCustody, ProviderKind, Settings
from crypto.errors import KeyUnavailable, ProviderUnavailable
from models import AuditEvent, DataKey, SigningKey
from tests.conftest import https_client, running
from tests.helpers import TestAuthenticator, gql
from tests.key_custody import OUTAGE_TOKEN, SoftHsm, kms_server
from tests.key_custody import shared_kms as shared_kms
from tests.key_custody import softhsm as softhsm
from tests.ops import phigate
from tests.test_backup import fresh_url as fresh_url
from tests.world import OWN, World, build_world

# softhsm, shared_kms and fresh_url above are fixtures, asked for by name (getfixturevalue).
QUERY = "query($id: ID!) { patient(id: $id) { givenName ssn mrn } }"
DOWN = "the key provider (HSM/KMS) does not answer or refuses"


@pytest.fixture(params=[ProviderKind.PKCS11, ProviderKind.AWS_KMS], ids=str)
def custody(request: pytest.FixtureRequest) -> KeyCustody:
    if request.param is ProviderKind.PKCS11:
        hsm: SoftHsm = request.getfixturevalue("softhsm")
        return hsm.custody()
    return request.getfixturevalue("shared_kms").custody()  # type: ignore[no-any-return]


@pytest.fixture
def restore_url(request: pytest.FixtureRequest) -> str:
    """An empty database to restore into (tests/test_backup.py's)."""
    return str(request.getfixturevalue("fresh_url"))


def _held(settings: Settings, custody: KeyCustody) -> Settings:
    """The deployment with its keys in the HSM/KMS: no local master key at all."""
    return dataclasses.replace(
        settings, key_custody=custody, master_key=None, keyring_refresh=timedelta(seconds=0.1)
    )


@contextlib.asynccontextmanager
async def _serving(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    async with (
        running(create_app(settings, authenticate=TestAuthenticator())) as app,
        https_client(app) as http,
    ):
        yield app, http


async def _reads_own(http: httpx.AsyncClient, world: World) -> None:
    response = await gql(http, QUERY, {"id": world.patients["own"]}, as_user="doc")
    assert "errors" not in response.json(), response.json()
    patient = response.json()["data"]["patient"]
    assert (patient["givenName"], patient["ssn"], patient["mrn"]) == (
        OWN["given_name"], OWN["ssn"], OWN["mrn"],
    )  # fmt: skip


async def test_serves_rotates_reports_and_backs_up(
    settings: Settings, custody: KeyCustody, restore_url: str, tmp_path: Path
) -> None:
    held = _held(settings, custody)
    archive = tmp_path / "held.phigate-backup"
    async with _serving(held) as (app, http):
        world = await build_world(app.state.keyring)
        await _reads_own(http, world)
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        assert {k.provider for k in await DataKey.all()} == {custody.kind.value}

        rotated = await phigate(held, "keys", "rotate", "--grace", "1")
        assert rotated.returncode == 0, rotated.stderr
        assert "data key v2 created" in rotated.stdout
        assert "0 remaining on older versions" in rotated.stdout
        status = (await phigate(held, "keys", "status", "--json")).json()
        assert status["data"]["primary"] == 2
        assert set(status["data"]["totals"]) == {"2"}
        assert status["wrapped_by"] == {custody.kind.value: 4}
        table = await phigate(held, "keys", "status")
        assert f"keys wrapped by: {custody.kind.value} (4)" in table.stdout
        await _reads_own(http, world)

        created = await phigate(held, "backup", "create", str(archive))
        assert created.returncode == 0, created.stderr
    verified = await phigate(held, "backup", "verify", str(archive))
    assert verified.returncode == 0, verified.stderr

    target = dataclasses.replace(held, database_url=restore_url)
    restored = await phigate(target, "backup", "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert (await phigate(target, "migrate")).returncode == 0
    async with _serving(target) as (_, http):
        await _reads_own(http, world)


@dataclass(frozen=True)
class Outage:
    custody: KeyCustody
    pull: Callable[[], AbstractContextManager[None]]
    """Takes the provider away for the block."""
    recovers: bool
    """The provider comes back at the block's end (a re-inserted token)."""


@pytest.fixture(params=[ProviderKind.PKCS11, ProviderKind.AWS_KMS], ids=str)
def outage(request: pytest.FixtureRequest) -> Iterator[Outage]:
    if request.param is ProviderKind.PKCS11:
        hsm: SoftHsm = request.getfixturevalue("softhsm")
        yield Outage(hsm.custody(OUTAGE_TOKEN), lambda: hsm.pulled(OUTAGE_TOKEN), True)
        return
    # A KMS server of its own, stopped by the test: the endpoint goes away for real.
    with kms_server() as kms:

        @contextlib.contextmanager
        def stopped() -> Iterator[None]:
            kms.stop()
            yield

        yield Outage(kms.custody(), stopped, False)


async def _readiness(http: httpx.AsyncClient, status: int) -> None:
    for _ in range(100):
        if (await http.get("/readyz")).status_code == status:
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"/readyz never answered {status}")


async def test_a_provider_that_goes_away_stops_phi_and_readiness(
    settings: Settings, outage: Outage, caplog: pytest.LogCaptureFixture
) -> None:
    held = _held(settings, outage.custody)
    async with _serving(held) as (app, http):
        world = await build_world(app.state.keyring)
        await _reads_own(http, world)
        with caplog.at_level(logging.WARNING, logger="phigate"), outage.pull():
            await _readiness(http, 503)
            body = (await http.get("/readyz")).json()
            assert body == {"status": "unavailable", "checks": {"key_provider": "fail"}}
            response = await gql(http, QUERY, {"id": world.patients["own"]}, as_user="doc")
            assert response.status_code == 503
            error = response.json()["errors"][0]
            assert error["extensions"]["reason"] == "key_provider_unavailable"
            assert OWN["ssn"] not in response.text
            # Below the endpoint too: the keyring itself refuses while the provider is gone.
            assert app.state.keyring.suspended

            rotate = await phigate(held, "keys", "rotate", "--grace", "0")
            assert rotate.returncode == 1
            [line] = rotate.stderr.strip().splitlines()
            assert line.startswith(f"phigate: {DOWN}")
        refused = [r.getMessage() for r in caplog.records if r.name == "phigate.keys"]
        name = outage.custody.kind.value
        assert refused[0] == f"key provider {name} does not answer: PHI refused until it does"
        if outage.recovers:
            await _readiness(http, 200)
            await _reads_own(http, world)
            again = [r.getMessage() for r in caplog.records if r.name == "phigate.keys"]
            assert again[1:] == [f"key provider {name} answers again: PHI served again"]
    # Nor does a server start without it.
    if not outage.recovers:
        with pytest.raises(ProviderUnavailable):
            async with _serving(held):
                pass


async def test_rewrap_moves_a_local_deployment_into_the_provider(
    settings: Settings, custody: KeyCustody, tmp_path: Path
) -> None:
    archive = tmp_path / "before.phigate-backup"
    async with _serving(settings) as (app, http):
        world = await build_world(app.state.keyring)
        kid = (await http.get("/.well-known/jwks.json")).json()["keys"][0]["kid"]
        local = {k.id: k.wrapped for k in await DataKey.all()}
        assert {k.provider for k in await DataKey.all()} == {"local"}
        assert (await phigate(settings, "backup", "create", str(archive))).returncode == 0

    held = _held(settings, custody)
    # Before the move, the provider is told what to do rather than failing as a wrong key.
    refused = await phigate(held, "keys", "rotate", "--grace", "0")
    assert refused.returncode == 1
    assert (
        f"wrapped by the local key provider, not {custody.kind.value}: "
        "run `phigate keys rewrap --from local` first"
    ) in refused.stderr

    # The move reads the old master key (still set) and the new provider's settings.
    moving = dataclasses.replace(settings, key_custody=custody)
    moved = await phigate(moving, "keys", "rewrap", "--from", "local")
    assert moved.returncode == 0, moved.stderr
    assert (
        f"3 data keys and 1 signing keys re-wrapped from local to {custody.kind.value} "
        f"(0 already under {custody.kind.value})"
    ) in moved.stdout
    again = await phigate(moving, "keys", "rewrap", "--from", "local")
    assert "0 data keys and 0 signing keys re-wrapped" in again.stdout
    assert "(4 already under" in again.stdout
    # A backup from before the move still opens, with the old master key it was made under.
    verified = await phigate(moving, "backup", "verify", str(archive))
    assert verified.returncode == 0, verified.stderr

    async with _serving(held) as (_, http):
        rows = await DataKey.all()
        assert {k.provider for k in rows} == {custody.kind.value}
        assert all(k.wrapped != local[k.id] for k in rows)
        assert {k.provider for k in await SigningKey.all()} == {custody.kind.value}
        events = await AuditEvent.filter(event="KEYS_REWRAPPED").values_list("detail", flat=True)
        assert len(events) == 2
        # Same data keys (nothing re-encrypted), same signing key.
        await _reads_own(http, world)
        assert (await http.get("/.well-known/jwks.json")).json()["keys"][0]["kid"] == kid


def test_a_wrapped_key_opens_only_in_its_context(custody: KeyCustody, settings: Settings) -> None:
    provider = key_provider(_held(settings, custody))
    key = secrets.token_bytes(32)
    wrapped = provider.wrap(key, "phigate-data-key|data|1")
    assert key not in wrapped
    assert provider.unwrap(wrapped, "phigate-data-key|data|1") == key
    for other in ("phigate-data-key|data|2", "phigate-data-key|audit|1"):
        with pytest.raises(KeyUnavailable):
            provider.unwrap(wrapped, other)
    with pytest.raises(KeyUnavailable):
        provider.unwrap(wrapped[:-1] + bytes([wrapped[-1] ^ 1]), "phigate-data-key|data|1")


def test_the_hsm_key_never_leaves_the_token(request: pytest.FixtureRequest) -> None:
    hsm: SoftHsm = request.getfixturevalue("softhsm")
    config = hsm.custody().pkcs11
    assert config is not None
    # The provider's own session reads only through the key's handle; this one asks the token.
    token = pkcs11.lib(config.module).get_token(token_label=config.token_label)
    try:
        session = token.open(user_pin=config.pin)
    except UserAlreadyLoggedIn:  # an earlier test's provider logged this process in
        session = token.open()
    with session:
        kek = session.get_key(label=config.key_label, object_class=ObjectClass.SECRET_KEY)
        assert kek[Attribute.SENSITIVE] is True
        assert kek[Attribute.EXTRACTABLE] is False
        assert kek[Attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(AttributeSensitive):
            kek[Attribute.VALUE]


def test_provider_settings_name_what_is_missing(tmp_path: Path) -> None:
    base = {"PHIGATE_ENV": "production", "PHIGATE_DATA_DIR": str(tmp_path)}
    pkcs = {**base, "PHIGATE_KEY_PROVIDER": "pkcs11", "PHIGATE_PKCS11_MODULE": "/x.so"}
    with pytest.raises(ConfigError, match="PHIGATE_PKCS11_TOKEN_LABEL is required"):
        Settings.from_env(pkcs)
    pkcs["PHIGATE_PKCS11_TOKEN_LABEL"] = "t"
    with pytest.raises(ConfigError, match="PHIGATE_PKCS11_PIN or PHIGATE_PKCS11_PIN_FILE"):
        Settings.from_env(pkcs)
    pin = tmp_path / "pin"
    pin.write_text("s3cret-pin\n")
    # No master key needed in production when the HSM holds the key; the PIN is never shown.
    held = Settings.from_env({**pkcs, "PHIGATE_PKCS11_PIN_FILE": str(pin)})
    assert held.key_custody.pkcs11 is not None
    assert held.key_custody.pkcs11.pin == "s3cret-pin"
    assert "s3cret-pin" not in repr(held)
    kms = {**base, "PHIGATE_KEY_PROVIDER": "aws-kms", "PHIGATE_KMS_KEY_ID": "alias/k"}
    with pytest.raises(ConfigError, match="PHIGATE_KMS_REGION"):
        Settings.from_env(kms)
    with pytest.raises(ConfigError, match="PHIGATE_KEY_PROVIDER must be one of"):
        Settings.from_env({**base, "PHIGATE_KEY_PROVIDER": "vault"})
    with pytest.raises(ConfigError, match="PHIGATE_MASTER_KEY is required"):
        Settings.from_env(base)
