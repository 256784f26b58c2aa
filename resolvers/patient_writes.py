"""Registering and changing patients: decided whole (permissions.decisions.Access), validated,
sealed and indexed, versioned, kept in revisions and audited in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from models import Patient, PatientRevision
from permissions.actions import WriteAction
from permissions.decisions import Change, Transaction
from resolvers import idempotency
from resolvers.patients import patient, patient_node
from resolvers.validation import PATIENT, REASON, checked
from schema import types
from schema.context import RequestContext
from schema.errors import Conflict, Forbidden, InvalidField, NotFound
from schema.inputs import PatientChanges, Provided, RegisterPatientInput, provided

REQUIRED = frozenset({"mrn", "given_name", "family_name", "birth_date"})
"""Columns a patient always has: an update may change them, never clear them."""


def _fields(values: Sequence[Provided]) -> tuple[tuple[str, str], ...]:
    return tuple((v.key, f"Patient.{v.key}") for v in values)


def validated(values: Sequence[Provided]) -> dict[str, str | None]:
    """Column -> value as stored (None: cleared), or InvalidField naming the input path."""
    return checked(values, PATIENT, REQUIRED)


def _organization(ctx: RequestContext) -> int:
    organization = ctx.principal.organization_pk
    if organization is None:
        raise Forbidden("Not permitted to register patients: no organization")
    return organization


async def _mrn_taken(row: Patient, connection: Any) -> bool:
    same = Patient.filter(organization_id=row.organization_id, mrn_index=row.mrn_index)  # type: ignore[attr-defined]
    # A new row has no id to leave out (an exclusion costs a register a tenth of its CPU).
    others = same if row.id is None else same.exclude(id=row.id)
    return await others.using_db(connection).exists()


MRN_TAKEN = ("input.mrn", "is already in use in this organization")


async def register_patient(
    ctx: RequestContext, stated: RegisterPatientInput, prefix: str
) -> types.Patient:
    attempt = idempotency.attempt(ctx, "registerPatient", stated)
    if (first := await idempotency.replayed(ctx, attempt)) is not None:
        return await patient(ctx, first)
    values = provided(stated, nulls=False)
    row = Patient(organization_id=0)
    change = Change(WriteAction.CREATE, row.public_id, row.public_id, prefix, _fields(values))
    access = ctx.access
    authorized = await access.authorize(change, access.rows.scope_categories)
    checked = validated(values)
    row.organization_id = _organization(ctx)
    authorized.sealer.seal(row, **checked)

    async def work(transaction: Transaction) -> Patient:
        if await _mrn_taken(row, transaction.connection):
            raise InvalidField(*MRN_TAKEN)
        await transaction.insert(row)
        await idempotency.remember(ctx, transaction.connection, attempt, row.public_id)
        return row

    try:
        written = await access.commit(authorized, work)
    except IntegrityError:
        # A race: the same key's first attempt, or the same MRN, committed meanwhile.
        if (first := await idempotency.replayed(ctx, attempt)) is not None:
            return await patient(ctx, first)
        raise InvalidField(*MRN_TAKEN) from None
    return patient_node(ctx, written)


async def update_patient(
    ctx: RequestContext,
    public_id: str,
    version: int,
    changes: PatientChanges,
    reason: str | None,
    prefix: str,
) -> types.Patient:
    attempt = idempotency.attempt(ctx, f"updatePatient:{public_id}", version, changes, reason)
    if (first := await idempotency.replayed(ctx, attempt)) is not None:
        return await patient(ctx, first)
    access = ctx.access
    row = await access.rows.patient(public_id) if Patient.is_public_id(public_id) else None
    if row is None:
        raise NotFound()
    subject = access.rows.subject(row)
    values = provided(changes, nulls=True)
    if not values:
        raise InvalidField("input", "names no field to change")
    change = Change(
        WriteAction.UPDATE, row.public_id, row.public_id, prefix, _fields(values), subject.purpose
    )
    authorized = await access.authorize(change, subject.categories)
    checked = validated(values)
    stated_reason = None if reason is None else REASON("reason", reason)
    if row.version != version:
        raise Conflict()
    revision = PatientRevision(
        patient_id=row.id,
        version=version,
        action=WriteAction.UPDATE.value,
        changed=",".join(v.key for v in values),
        actor=ctx.principal.actor,
        role=ctx.principal.role.value,
        at=datetime.now(UTC),
    )
    authorized.sealer.revise(revision, row, checked, stated_reason)

    async def work(transaction: Transaction) -> Patient:
        connection = transaction.connection
        if "mrn" in checked and await _mrn_taken(row, connection):
            raise InvalidField(*MRN_TAKEN)
        columns = Patient.with_indexes(checked)
        # The version in the WHERE clause is what makes one of two concurrent updates lose.
        updated = (
            await Patient.filter(id=row.id, version=version)
            .using_db(connection)
            .update(**{column: getattr(row, column) for column in columns}, version=version + 1)
        )
        if updated != 1:
            raise Conflict()
        await transaction.insert(revision)
        await idempotency.remember(ctx, connection, attempt, row.public_id)
        row.version = version + 1
        return row

    try:
        written = await access.commit(authorized, work)
    except IntegrityError:
        if (first := await idempotency.replayed(ctx, attempt)) is not None:
            return await patient(ctx, first)
        # The revision of this version exists: another update of it committed first.
        raise Conflict() from None
    return patient_node(ctx, written)
