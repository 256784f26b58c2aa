"""Rows load as whole model instances (models/loading.py): each column converted as tortoise
converts it, sealed columns bound to their row, and the instance saved back as an update.
Rows of a partial query (`.only()`) take tortoise's own path and are bound all the same."""

from __future__ import annotations

from datetime import datetime

from crypto.keyring import Keyring
from crypto.sealed import Sealed, binding_for
from models import Diagnosis, Patient, User
from tests.world import OWN, World


async def test_a_loaded_row_is_complete_and_bound(keyring: Keyring, world: World) -> None:
    public_id = world.patients["own"]
    patient = await Patient.get(public_id=public_id)
    assert isinstance(patient.ssn, Sealed)
    assert patient.ssn.binding == binding_for("patient.ssn", public_id)
    assert keyring.open(patient.ssn) == OWN["ssn"]
    assert isinstance(patient.created_at, datetime)
    assert patient.created_at.tzinfo is not None
    assert isinstance(patient.ssn_index, bytes)
    assert (await patient.organization).name == "Test Hospital"
    # Booleans are native to asyncpg, converted from integers on SQLite: the loader follows
    # the database the models were last initialised for (tests switch between the two).
    user = await User.get(username="alice")
    assert user.is_active is True

    diagnosis = await Diagnosis.get(public_id=world.children["diagnosis"])
    assert (await diagnosis.patient).public_id == public_id
    assert diagnosis.code.binding == binding_for("diagnosis.code", diagnosis.public_id)


async def test_a_loaded_row_saves_as_an_update(keyring: Keyring, world: World) -> None:
    patient = await Patient.get(public_id=world.patients["own"])
    patient.seal_identity(keyring, phone="+1 555 0100")
    await patient.save()
    again = await Patient.get(public_id=world.patients["own"])
    assert keyring.open(again.phone) == "+1 555 0100"
    assert await Patient.filter(public_id=world.patients["own"]).count() == 1


async def test_a_partial_row_is_bound_too(keyring: Keyring, world: World) -> None:
    public_id = world.patients["own"]
    partial = await Patient.filter(public_id=public_id).only("id", "public_id", "ssn").get()
    assert partial.ssn.binding == binding_for("patient.ssn", public_id)
    assert keyring.open(partial.ssn) == OWN["ssn"]
