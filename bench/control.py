"""The unprotected control: the same rows with plaintext columns, the same GraphQL shape, and
no guard, no decryption, no audit. It exists only for the benchmark.

Its mutations do the product's writes (resolvers/patient_writes.py) without the protection:
the same inputs and validation, a patient of the writer's organization with its MRN unique
there (checked, and kept unique by an index), its creation time, the insert, versioned update
and revision row, each in one transaction; but no write decision, no sealing, blind indexes or
report shuffle, no record of who changed a row, and no audit record. What a guarded write costs
beyond them is therefore all of the protection, as for reads."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info
from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models import Organization
from models.compiled import CompiledQueries
from resolvers.loaders import children_of
from resolvers.patient_writes import MRN_TAKEN, validated
from resolvers.validation import REASON
from schema.documents import Documents
from schema.errors import Conflict, InvalidField, NotFound
from schema.inputs import PatientChanges, RegisterPatientInput, provided
from schema.limits import Limits


class PlainPatient(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    # A product patient belongs to an organization (a foreign key, checked on insert) and its
    # MRN is unique there: multi-tenancy, not protection, so the control has it too.
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "phigate.Organization", related_name=False, on_delete=fields.CASCADE
    )
    mrn = fields.CharField(max_length=20)
    ssn = fields.TextField()
    given_name = fields.TextField()
    family_name = fields.TextField()
    birth_date = fields.TextField()
    phone = fields.TextField()
    email = fields.TextField()
    street = fields.TextField()
    city = fields.TextField()
    zip = fields.TextField()
    version = fields.IntField(default=1)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bench_plain_patient"
        unique_together = (("organization", "mrn"),)


class PlainRevision(Model):
    """The values an update replaced, as `models.PatientRevision` keeps them (in plaintext)."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    patient_id = fields.BigIntField()
    version = fields.IntField()
    action = fields.CharField(max_length=10)
    changed = fields.CharField(max_length=400)
    at = fields.DatetimeField()
    reason = fields.TextField(null=True)
    mrn = fields.TextField(null=True)
    given_name = fields.TextField(null=True)
    family_name = fields.TextField(null=True)
    birth_date = fields.TextField(null=True)
    ssn = fields.TextField(null=True)
    phone = fields.TextField(null=True)
    email = fields.TextField(null=True)
    street = fields.TextField(null=True)
    city = fields.TextField(null=True)
    zip = fields.TextField(null=True)

    class Meta:
        table = "bench_plain_revision"
        unique_together = (("patient_id", "version"),)


class PlainEncounter(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40)
    patient_id = fields.BigIntField(db_index=True)
    kind = fields.CharField(max_length=20)
    start_date = fields.TextField()

    class Meta:
        table = "bench_plain_encounter"


class PlainDiagnosis(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40)
    patient_id = fields.BigIntField(db_index=True)
    code = fields.TextField()
    description = fields.TextField()
    recorded_date = fields.TextField()

    class Meta:
        table = "bench_plain_diagnosis"


class PlainObservation(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40)
    patient_id = fields.BigIntField(db_index=True)
    code = fields.TextField()
    value = fields.TextField()
    unit = fields.TextField()
    effective_date = fields.TextField()

    class Meta:
        table = "bench_plain_observation"


class PlainNote(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40)
    patient_id = fields.BigIntField(db_index=True)
    text = fields.TextField()
    authored_date = fields.TextField()

    class Meta:
        table = "bench_plain_note"


@dataclass
class ControlContext:
    organization_id: int | None = None
    """The writer's organization: where it registers patients."""
    encounters: DataLoader[int, list[PlainEncounter]] = field(
        default_factory=lambda: children_of(PlainEncounter)
    )
    diagnoses: DataLoader[int, list[PlainDiagnosis]] = field(
        default_factory=lambda: children_of(PlainDiagnosis)
    )
    observations: DataLoader[int, list[PlainObservation]] = field(
        default_factory=lambda: children_of(PlainObservation)
    )
    notes: DataLoader[int, list[PlainNote]] = field(default_factory=lambda: children_of(PlainNote))


@strawberry.type
class Encounter:
    id: strawberry.ID
    kind: str
    start_date: str | None


@strawberry.type
class Diagnosis:
    id: strawberry.ID
    code: str | None
    description: str | None
    recorded_date: str | None


@strawberry.type
class Observation:
    id: strawberry.ID
    code: str | None
    value: str | None
    unit: str
    effective_date: str | None


@strawberry.type
class ClinicalNote:
    id: strawberry.ID
    text: str | None
    authored_date: str | None


def _node(kind: type[Any], row: Model) -> Any:
    names = [f.name for f in kind.__strawberry_definition__.fields]
    values = {name: getattr(row, "public_id" if name == "id" else name) for name in names}
    return kind(**values)


@strawberry.type
class Patient:
    row: strawberry.Private[PlainPatient]
    id: strawberry.ID
    version: int
    mrn: str | None
    given_name: str | None
    family_name: str | None
    birth_date: str | None
    ssn: str | None
    phone: str | None
    email: str | None
    street: str | None
    city: str | None
    zip: str | None

    @strawberry.field
    async def encounters(self, info: Info[ControlContext, None]) -> list[Encounter]:
        rows = await info.context.encounters.load(self.row.id)
        return [_node(Encounter, r) for r in rows]

    @strawberry.field
    async def diagnoses(self, info: Info[ControlContext, None]) -> list[Diagnosis]:
        rows = await info.context.diagnoses.load(self.row.id)
        return [_node(Diagnosis, r) for r in rows]

    @strawberry.field
    async def observations(self, info: Info[ControlContext, None]) -> list[Observation]:
        rows = await info.context.observations.load(self.row.id)
        return [_node(Observation, r) for r in rows]

    @strawberry.field
    async def notes(self, info: Info[ControlContext, None]) -> list[ClinicalNote]:
        rows = await info.context.notes.load(self.row.id)
        return [_node(ClinicalNote, r) for r in rows]


@strawberry.type
class PatientEdge:
    cursor: str
    node: Patient


@strawberry.type
class PatientConnection:
    edges: list[PatientEdge]
    total_count: int


@strawberry.type
class Query:
    @strawberry.field
    async def patients(self, first: int = 20, after: str | None = None) -> PatientConnection:
        query = PlainPatient.all().order_by("public_id")
        total = await query.count()
        if after is not None:
            query = query.filter(public_id__gt=after)
        rows = await query.limit(first)
        edges = [PatientEdge(cursor=row.public_id, node=_patient(row)) for row in rows]
        return PatientConnection(edges=edges, total_count=total)


def _patient(row: PlainPatient) -> Patient:
    return Patient(
        row=row,
        id=strawberry.ID(row.public_id),
        version=row.version,
        mrn=row.mrn,
        given_name=row.given_name,
        family_name=row.family_name,
        birth_date=row.birth_date,
        ssn=row.ssn,
        phone=row.phone,
        email=row.email,
        street=row.street,
        city=row.city,
        zip=row.zip,
    )


def _public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(16)}"


_BY_PUBLIC_ID = CompiledQueries(PlainPatient)
"""The product looks its patient up through a compiled shape too (permissions/rows.py)."""


async def _mrn_taken(organization: int, mrn: str, connection: BaseDBAsyncClient) -> bool:
    same = PlainPatient.filter(organization_id=organization, mrn=mrn)
    return await same.using_db(connection).exists()


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register_patient(
        self, info: Info[ControlContext, None], input: RegisterPatientInput
    ) -> Patient:
        organization = info.context.organization_id
        if organization is None:
            raise NotFound()
        checked = validated(provided(input, nulls=False))
        async with in_transaction() as connection:
            if await _mrn_taken(organization, str(checked["mrn"]), connection):
                raise InvalidField(*MRN_TAKEN)
            row = await PlainPatient.create(
                using_db=connection,
                public_id=_public_id("pat"),
                organization_id=organization,
                **checked,
            )
        return _patient(row)

    @strawberry.mutation
    async def update_patient(
        self, id: strawberry.ID, version: int, input: PatientChanges, reason: str | None = None
    ) -> Patient:
        found = await _BY_PUBLIC_ID.select(
            "by_public_id",
            lambda v: PlainPatient.filter(public_id=v["public_id"]).limit(1),
            public_id=str(id),
        )
        if not found:
            raise NotFound()
        row = found[0]
        values = provided(input, nulls=True)
        checked = validated(values)
        stated_reason = None if reason is None else REASON("reason", reason)
        if row.version != version:
            raise Conflict()
        async with in_transaction() as connection:
            if "mrn" in checked and await _mrn_taken(
                row.organization_id,  # type: ignore[attr-defined]
                str(checked["mrn"]),
                connection,
            ):
                raise InvalidField(*MRN_TAKEN)
            updated = (
                await PlainPatient.filter(id=row.id, version=version)
                .using_db(connection)
                .update(**checked, version=version + 1)
            )
            if updated != 1:
                raise Conflict()
            await PlainRevision.create(
                using_db=connection,
                public_id=_public_id("rev"),
                patient_id=row.id,
                version=version,
                action="UPDATE",
                changed=",".join(v.key for v in values),
                at=datetime.now(UTC),
                reason=stated_reason,
                **{column: getattr(row, column) for column in checked},
            )
        for column, value in checked.items():
            setattr(row, column, value)
        row.version = version + 1
        return _patient(row)


# The parse and validation cache is not protection: the control keeps it, as the product does,
# so the ratio compares the guard and nothing else.
control_schema = strawberry.Schema(
    query=Query, mutation=Mutation, extensions=[Documents(Limits().max_tokens, rules=()).extension]
)
