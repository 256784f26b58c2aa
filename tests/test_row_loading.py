"""Rows load as whole model instances (models/loading.py): each column converted as tortoise
converts it, sealed columns bound to their row, and the instance saved back as an update.
Rows of a partial query (`.only()`) take tortoise's own path and are bound all the same."""

from __future__ import annotations

from datetime import datetime

import pytest
from tortoise.models import Model

from crypto.keyring import Keyring
from crypto.sealed import Sealed, binding_for
from models import Diagnosis, Organization, Patient, User
from models.base import PublicModel
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


def _subclasses(model: type[PublicModel]) -> list[type[PublicModel]]:
    found = []
    for sub in model.__subclasses__():
        if not sub._meta.abstract:
            found.append(sub)
        found.extend(_subclasses(sub))
    return found


async def test_a_new_row_is_the_instance_tortoise_makes(world: World) -> None:
    # models/loading.py NewRows fills a new instance itself; tortoise's `Model.__init__` must
    # make the same one (the same attributes, defaults and state) for every model.
    models = _subclasses(PublicModel)
    assert Patient in models
    assert Diagnosis in models
    for model in models:
        fast = model(public_id=f"{model.PUBLIC_ID_PREFIX}_{'a' * 22}")
        slow = model.__new__(model)
        Model.__init__(slow, public_id=fast.public_id)
        drawn = {key for key, _ in model._new_rows._made}
        mine, theirs = dict(fast.__dict__), dict(slow.__dict__)
        assert mine.keys() == theirs.keys(), model
        assert {k: v for k, v in mine.items() if k not in drawn} == {
            k: v for k, v in theirs.items() if k not in drawn
        }, model
    # Given a column value, converted as tortoise converts it.
    assert Patient(organization_id="7", version="3").version == 3
    # What it does not fill itself is tortoise's: a related object, and its checks.
    organization = await Organization.first()
    assert Patient(organization=organization).organization_id == organization.id  # type: ignore[union-attr,attr-defined]
    with pytest.raises(ValueError, match="non nullable"):
        Patient(organization_id=None)
