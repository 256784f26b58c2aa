"""A write's first new row carries its audit record (audit/writes.py `Transaction`). On
PostgreSQL the two go in as one statement built from tortoise's own INSERT for the model
(models/inserts.py); on SQLite the record goes in just before the row. Either way the row is
stored exactly as `Model.save` stores it, and the record and the row are all or nothing."""

from __future__ import annotations

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.auth.sessions import user_principal
from audit.writes import AuditedWrites, Transaction
from crypto.keyring import Keyring
from models import AuditEvent, Patient, User
from permissions.actions import WriteAction
from permissions.decisions import Change
from tests.world import World

VALUES = {
    "mrn": "INS-0001",
    "given_name": "Ines",
    "family_name": "Okafor",
    "birth_date": "1979-02-03",
    "ssn": "123-45-0001",
    "email": "ines@example.org",
    "zip": "60601",
}
# Drawn per row (the shuffle), the row's own (ids, its MRN) or stamped on insert.
OWN_TO_EACH = {"id", "public_id", "report_shuffle", "created_at", "mrn", "mrn_index"}


async def _transaction(connection: object, request_id: str, row: Patient) -> Transaction:
    desk = await User.get(username="desk")
    change = Change(
        WriteAction.CREATE, row.public_id, row.public_id, "registerPatient.input",
        (("mrn", "Patient.mrn"), ("ssn", "Patient.ssn")),
    )  # fmt: skip
    return Transaction(connection, user_principal(desk, request_id), change)  # type: ignore[arg-type]


def _new(keyring: Keyring, organization: int, **changed: str) -> Patient:
    row = Patient(organization_id=organization)
    row.seal(keyring, **{**VALUES, **changed})
    return row


async def test_a_row_inserted_with_its_record_is_stored_as_save_stores_it(
    keyring: Keyring, world: World
) -> None:
    organization = (await Patient.get(public_id=world.patients["own"])).organization_id  # type: ignore[attr-defined]
    saved = _new(keyring, organization)
    await saved.save()
    inserted = _new(keyring, organization, mrn="INS-0002")
    async with in_transaction() as connection:
        transaction = await _transaction(connection, "req-inserts", inserted)
        await transaction.insert(inserted)
        await transaction.finish()
    assert inserted.id is not None
    [record] = await AuditEvent.filter(request_id="req-inserts")
    assert (record.event, record.decision, record.detail) == ("CREATE", "ALLOW", inserted.public_id)

    [one] = await Patient.filter(id=saved.id).values()
    [two] = await Patient.filter(id=inserted.id).values()
    assert one.keys() == two.keys()
    sealed = {name for name, _ in Patient.sealed_columns()}
    for column in one.keys() - OWN_TO_EACH:
        if column in sealed:
            # Each sealed under its own row's binding and nonce: the same value inside.
            first, second = await Patient.get(id=saved.id), await Patient.get(id=inserted.id)
            a, b = getattr(first, column), getattr(second, column)
            assert (a is None) == (b is None), column
            if a is not None:
                assert keyring.open(a) == keyring.open(b), column
        else:
            assert one[column] == two[column], column

    # Saved as tortoise saves: a later save() updates the row instead of inserting another.
    inserted.seal(keyring, phone="312-555-0101")
    await inserted.save()
    assert await Patient.filter(mrn_index=inserted.mrn_index).count() == 1  # type: ignore[attr-defined]
    assert keyring.open((await Patient.get(id=inserted.id)).phone) == "312-555-0101"


async def test_a_row_refused_by_its_table_leaves_no_record(keyring: Keyring, world: World) -> None:
    organization = (await Patient.get(public_id=world.patients["own"])).organization_id  # type: ignore[attr-defined]
    await _new(keyring, organization).save()
    clash = _new(keyring, organization)  # the same MRN in the same organization

    async def insert() -> None:
        async with in_transaction() as connection:
            transaction = await _transaction(connection, "req-clash", clash)
            await transaction.insert(clash)

    with pytest.raises(IntegrityError):
        await insert()
    assert not await AuditEvent.filter(request_id="req-clash").exists()
    assert await Patient.filter(public_id=clash.public_id).count() == 0


async def test_a_write_that_adds_no_row_is_recorded_all_the_same(
    keyring: Keyring, world: World
) -> None:
    patient = await Patient.get(public_id=world.patients["own"])
    desk = await User.get(username="desk")
    change = Change(
        WriteAction.UPDATE, patient.public_id, patient.public_id, "updatePatient.input",
        (("zip", "Patient.zip"),),
    )  # fmt: skip

    async def work(transaction: Transaction) -> None:
        await Patient.filter(id=patient.id).using_db(transaction.connection).update(version=2)

    await AuditedWrites().commit(user_principal(desk, "req-no-row"), change, work)
    [record] = await AuditEvent.filter(request_id="req-no-row")
    assert (record.event, record.patient, record.decision) == ("UPDATE", patient.public_id, "ALLOW")
    assert (await Patient.get(id=patient.id)).version == 2
