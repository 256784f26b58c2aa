"""Envelope encryption with real AES-GCM: binding, tampering, unknown keys, no plaintext reprs."""

from __future__ import annotations

import base64
import secrets
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from tortoise import connections

from api.app import create_app
from api.settings import Settings
from crypto.errors import KeyUnavailable, SealBroken
from crypto.keyring import Keyring
from crypto.provider import LocalKeyProvider, load_or_create_master_key_file
from models import Patient
from tests.helpers import audited_fields, gql, placeholder
from tests.world import OTHER, OWN, World


def ring(primary: int = 1) -> Keyring:
    keys = {v: secrets.token_bytes(32) for v in (1, 2)}
    return Keyring(keys, primary=primary, index_key=secrets.token_bytes(32))


def test_round_trip_and_no_plaintext_in_repr() -> None:
    keyring = ring()
    sealed = keyring.seal("900-12-3456", "patient.ssn|pat_x")
    assert keyring.open(sealed) == "900-12-3456"
    assert b"900-12-3456" not in sealed.blob
    assert repr(sealed) == str(sealed) == "<Sealed patient.ssn>"
    # Random nonces: the same value never produces the same ciphertext.
    assert keyring.seal("900-12-3456", "patient.ssn|pat_x").blob != sealed.blob


def test_a_rows_values_sealed_together_each_have_a_nonce_and_binding_of_their_own() -> None:
    keyring = ring(primary=2)
    values = [("Rowan", "patient.given_name|pat_x"), ("Rowan", "patient.family_name|pat_x")]
    first, second = keyring.seal_all(values)
    nonce = slice(5, 17)
    assert first.blob[nonce] != second.blob[nonce]
    assert [keyring.open(first), keyring.open(second)] == ["Rowan", "Rowan"]
    assert first.blob[1:5] == second.blob[1:5] == (2).to_bytes(4, "big")
    with pytest.raises(SealBroken):
        keyring.open(first._replace(binding=second.binding))
    assert keyring.seal_all([]) == []


@pytest.mark.parametrize("binding", ["patient.ssn|pat_y", "patient.mrn|pat_x"])
def test_ciphertext_bound_to_its_row_and_column(binding: str) -> None:
    keyring = ring()
    sealed = keyring.seal("900-12-3456", "patient.ssn|pat_x")
    with pytest.raises(SealBroken):
        keyring.open(sealed._replace(binding=binding))


def test_tampered_or_relabelled_ciphertext_fails() -> None:
    keyring = ring()
    sealed = keyring.seal("value", "t.c|r")
    flipped = bytearray(sealed.blob)
    flipped[-1] ^= 1
    with pytest.raises(SealBroken):
        keyring.open(sealed._replace(blob=bytes(flipped)))
    relabelled = bytearray(sealed.blob)
    relabelled[4] = 2  # claim key version 2: the version is part of the associated data
    with pytest.raises(SealBroken):
        keyring.open(sealed._replace(blob=bytes(relabelled)))
    with pytest.raises(SealBroken):
        keyring.open(sealed._replace(blob=b"short"))


def test_unknown_key_version_is_unavailable() -> None:
    sealed = ring(primary=2).seal("value", "t.c|r")
    only_v1 = Keyring({1: secrets.token_bytes(32)}, primary=1, index_key=b"k" * 32)
    with pytest.raises(KeyUnavailable):
        only_v1.open(sealed)


def test_rotation_keeps_old_versions_readable() -> None:
    keys = {1: secrets.token_bytes(32)}
    old = Keyring(keys, primary=1, index_key=b"k" * 32).seal("value", "t.c|r")
    rotated = Keyring({**keys, 2: secrets.token_bytes(32)}, primary=2, index_key=b"k" * 32)
    assert rotated.open(old) == "value"
    assert rotated.seal("value", "t.c|r").blob[1:5] == (2).to_bytes(4, "big")


def test_blind_index_is_per_column_and_keyed() -> None:
    keyring = ring()
    assert keyring.blind_index("ssn", "900123456") == keyring.blind_index("ssn", "900123456")
    assert keyring.blind_index("ssn", "900123456") != keyring.blind_index("mrn", "900123456")
    assert ring().blind_index("ssn", "900123456") != keyring.blind_index("ssn", "900123456")


def test_master_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "data" / "master.key"
    first = load_or_create_master_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_master_key_file(path) == first
    provider = LocalKeyProvider(first)
    wrapped = provider.wrap(b"k" * 32, "ctx")
    assert provider.unwrap(wrapped, "ctx") == b"k" * 32
    with pytest.raises(KeyUnavailable):
        provider.unwrap(wrapped, "other ctx")


async def _copy_ssn_ciphertext(world: World) -> None:
    """Copy the own patient's raw SSN ciphertext to the other patient, as an attacker with
    database access might."""
    own = await Patient.get(public_id=world.patients["own"])
    other = await Patient.get(public_id=world.patients["other"])
    await connections.get("default").execute_query(
        f"UPDATE patient SET ssn = {placeholder()} WHERE id = {other.id}",  # noqa: S608
        [own.ssn.blob],
    )


async def test_ciphertext_moved_to_another_row_fails_closed(
    client: httpx.AsyncClient, world: World
) -> None:
    await _copy_ssn_ciphertext(world)
    query = "query($id: ID!) { patient(id: $id) { givenName ssn } }"
    response = await gql(client, query, {"id": world.patients["other"]}, as_user="desk")
    body = response.json()
    assert body["data"] == {"patient": {"givenName": OTHER["given_name"], "ssn": None}}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["patient", "ssn"], "PHI_UNAVAILABLE")
    ]
    assert OWN["ssn"][-4:] not in response.text


async def test_unopenable_field_is_audited_once_per_alias(
    client: httpx.AsyncClient, world: World
) -> None:
    # The guard completes a field itself, and hands a decryption failure back to graphql-core,
    # which runs the guard as the resolver: the access is still recorded once, at its path.
    await _copy_ssn_ciphertext(world)
    query = "query($id: ID!) { patient(id: $id) { a: ssn givenName b: ssn } }"
    response = await gql(client, query, {"id": world.patients["other"]}, as_user="desk")
    body = response.json()
    assert body["data"] == {"patient": {"a": None, "givenName": OTHER["given_name"], "b": None}}
    assert sorted((e["path"], e["extensions"]["code"]) for e in body["errors"]) == [
        (["patient", "a"], "PHI_UNAVAILABLE"),
        (["patient", "b"], "PHI_UNAVAILABLE"),
    ]
    audited = await audited_fields(response.headers["x-request-id"])
    assert sorted((field, path) for _, field, path, _ in audited) == [
        ("Patient.givenName", "patient.givenName"),
        ("Patient.ssn", "patient.a"),
        ("Patient.ssn", "patient.b"),
    ]


async def test_orm_refuses_plaintext_and_foreign_ciphertext(world: World) -> None:
    own = await Patient.get(public_id=world.patients["own"])
    other = await Patient.get(public_id=world.patients["other"])
    other.ssn = "900-00-0000"
    with pytest.raises(TypeError):
        await other.save()
    other.ssn = own.ssn
    with pytest.raises(ValueError, match="another column or row"):
        await other.save()


async def test_wrong_master_key_refuses_to_start(settings: Settings) -> None:
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        pass  # creates and wraps the data keys
    wrong = replace(settings, master_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
    other_app = create_app(wrong)
    with pytest.raises(KeyUnavailable):
        async with other_app.router.lifespan_context(other_app):
            pass
