"""Adding and amending a patient's clinical entries (diagnoses, observations, notes) and
starting encounters: the write path of patients (resolvers/patient_writes.py) applied to a
patient's records. Decided whole (permissions.decisions.Access), validated, sealed, versioned,
kept in revisions and audited in one transaction.

Nothing clinical is deleted. An amendment is a new version of the same entry: the entry keeps
its id, its version is raised, its status becomes AMENDED, and the values it replaced are
sealed into a revision (`DiagnosisRevision`...). `enteredInError: true` marks the entry
ENTERED_IN_ERROR: it stays on record, labelled, and is amended no more (a correct entry is
recorded anew).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from tortoise.exceptions import IntegrityError

from models import (
    ClinicalNote,
    ClinicalNoteRevision,
    Diagnosis,
    DiagnosisRevision,
    Encounter,
    EntryStatus,
    Observation,
    ObservationRevision,
    Patient,
)
from permissions.actions import WriteAction
from permissions.decisions import Change, PolicyError, Transaction
from resolvers import idempotency, validation
from resolvers.patients import visible_child
from resolvers.validation import REASON, Check, checked
from schema import types
from schema.context import RequestContext
from schema.errors import BadInput, Conflict, InvalidField, NotFound
from schema.inputs import Provided, provided

ENTERED_IN_ERROR = "enteredInError"


Node = TypeVar("Node", types.Encounter, types.Diagnosis, types.Observation, types.ClinicalNote)


@dataclass(frozen=True, slots=True)
class Kind(Generic[Node]):
    """One kind of clinical record and how it is written."""

    name: str
    """The GraphQL type (`Diagnosis`): the @phi coordinates' prefix and the mutations' suffix."""
    model: type[Any]
    """A `PublicModel`; an amendable kind's is a `ClinicalEntry`."""
    node: type[Node]
    revision: type[Any] | None
    checks: Mapping[str, Check]
    required: frozenset[str]
    """Columns an entry always has: an amendment may change them, never clear them."""
    defining: str
    """The field whose write decision marking an entry entered in error takes: changing
    whether an entry stands is changing what it says."""


DIAGNOSIS = Kind(
    "Diagnosis",
    Diagnosis,
    types.Diagnosis,
    DiagnosisRevision,
    validation.DIAGNOSIS,
    frozenset({"code", "description", "recorded_date"}),
    "code",
)
OBSERVATION = Kind(
    "Observation",
    Observation,
    types.Observation,
    ObservationRevision,
    validation.OBSERVATION,
    frozenset({"code", "value", "effective_date"}),
    "value",
)
NOTE = Kind(
    "ClinicalNote",
    ClinicalNote,
    types.ClinicalNote,
    ClinicalNoteRevision,
    validation.NOTE,
    frozenset({"text", "authored_date"}),
    "text",
)
ENCOUNTER = Kind(
    "Encounter", Encounter, types.Encounter, None, validation.ENCOUNTER, frozenset(), "kind"
)


def _fields(kind: Kind[Any], values: list[Provided]) -> tuple[tuple[str, str], ...]:
    return tuple((v.key, f"{kind.name}.{v.key}") for v in values)


async def _entry(ctx: RequestContext, kind: Kind[Node], public_id: str) -> Node:
    row, owner = await visible_child(ctx, kind.model, public_id)
    return types.child_node(kind.node, row, ctx.access.rows.subject(owner))


async def _patient(ctx: RequestContext, public_id: str) -> Patient:
    row = await ctx.access.rows.patient(public_id) if Patient.is_public_id(public_id) else None
    if row is None:
        raise NotFound()
    return row


async def _encounter(patient: Patient, public_id: str | None) -> int | None:
    """The named encounter's key: one of this patient's, or BAD_USER_INPUT."""
    if public_id is None:
        return None
    found = (
        await Encounter.filter(public_id=public_id, patient_id=patient.id).first()
        if Encounter.is_public_id(public_id)
        else None
    )
    if found is None:
        raise InvalidField("encounter", "is not an encounter of this patient")
    pk: int = found.id
    return pk


async def add(
    ctx: RequestContext,
    kind: Kind[Node],
    patient_id: str,
    stated: Any,
    prefix: str,
    encounter: str | None = None,
) -> Node:
    """A new record of `kind` for a patient in the caller's rows."""
    attempt = idempotency.attempt(ctx, f"add{kind.name}:{patient_id}", stated, encounter)
    if (first := await idempotency.replayed(ctx, attempt)) is not None:
        return await _entry(ctx, kind, first)
    access = ctx.access
    patient = await _patient(ctx, patient_id)
    subject = access.rows.subject(patient)
    values = provided(stated, nulls=False)
    row = kind.model(patient_id=patient.id)
    change = Change(
        WriteAction.CREATE,
        patient.public_id,
        row.public_id,
        prefix,
        _fields(kind, values),
        subject.purpose,
    )
    authorized = await access.authorize(change, subject.categories)
    values_checked = checked(values, kind.checks, kind.required)
    links = {"encounter_id": await _encounter(patient, encounter)} if encounter else {}
    if kind is NOTE:
        links["author_id"] = ctx.principal.user_pk
    for name, value in links.items():
        setattr(row, name, value)
    authorized.sealer.seal(row, **values_checked)

    async def work(transaction: Transaction) -> Any:
        await transaction.insert(row)
        await idempotency.remember(ctx, transaction.connection, attempt, row.public_id)
        return row

    try:
        written = await access.commit(authorized, work)
    except IntegrityError:
        # The same key's first attempt committed meanwhile.
        if (first := await idempotency.replayed(ctx, attempt)) is not None:
            return await _entry(ctx, kind, first)
        raise
    return types.child_node(kind.node, written, subject)


def _split(changes: Any) -> tuple[list[Provided], bool]:
    """The values to change, and whether the entry is marked entered in error."""
    values = provided(changes, nulls=True)
    marked = [v for v in values if v.key == ENTERED_IN_ERROR]
    return [v for v in values if v.key != ENTERED_IN_ERROR], bool(marked and marked[0].value)


async def amend(
    ctx: RequestContext,
    kind: Kind[Node],
    public_id: str,
    version: int,
    changes: Any,
    reason: str,
    prefix: str,
) -> Node:
    """A new version of an entry the caller may see; its earlier values go to its history."""
    attempt = idempotency.attempt(ctx, f"amend{kind.name}:{public_id}", version, changes, reason)
    if (first := await idempotency.replayed(ctx, attempt)) is not None:
        return await _entry(ctx, kind, first)
    access = ctx.access
    row, patient = await visible_child(ctx, kind.model, public_id)
    subject = access.rows.subject(patient)
    values, entered_in_error = _split(changes)
    if not values and not entered_in_error:
        raise InvalidField("input", "names no field to change")
    fields = _fields(kind, values)
    if entered_in_error:
        fields += ((ENTERED_IN_ERROR, f"{kind.name}.{kind.defining}"),)
    change = Change(
        WriteAction.AMEND, patient.public_id, row.public_id, prefix, fields, subject.purpose
    )
    authorized = await access.authorize(change, subject.categories)
    values_checked = checked(values, kind.checks, kind.required)
    stated_reason = REASON("reason", reason)
    if row.status == EntryStatus.ENTERED_IN_ERROR:
        raise BadInput("This entry was entered in error; record a new one. Nothing was written")
    if row.version != version:
        raise Conflict()
    status = EntryStatus.ENTERED_IN_ERROR if entered_in_error else EntryStatus.AMENDED
    if kind.revision is None:
        raise PolicyError("this kind of record is not amended")
    revision = kind.revision(
        entry_id=row.id,
        version=version,
        status=row.status.value,
        changed=",".join(key for key, _ in fields),
        actor=ctx.principal.actor,
        role=ctx.principal.role.value,
        at=datetime.now(UTC),
    )
    authorized.sealer.revise(revision, row, values_checked, stated_reason)

    async def work(transaction: Transaction) -> Any:
        connection = transaction.connection
        # The version in the WHERE clause is what makes one of two concurrent amendments lose.
        updated = (
            await kind.model.filter(id=row.id, version=version)
            .using_db(connection)
            .update(
                **{column: getattr(row, column) for column in values_checked},
                version=version + 1,
                status=status,
            )
        )
        if updated != 1:
            raise Conflict()
        await transaction.insert(revision)
        await idempotency.remember(ctx, connection, attempt, row.public_id)
        row.version = version + 1
        row.status = status
        return row

    try:
        written = await access.commit(authorized, work)
    except IntegrityError:
        if (first := await idempotency.replayed(ctx, attempt)) is not None:
            return await _entry(ctx, kind, first)
        # The revision of this version exists: another amendment of it committed first.
        raise Conflict() from None
    return types.child_node(kind.node, written, subject)
