"""The unprotected control: the same rows with plaintext columns, the same GraphQL shape, and
no guard, no decryption, no audit. It exists only for the benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info
from tortoise import fields
from tortoise.models import Model

from resolvers.loaders import children_of
from schema.documents import Documents
from schema.limits import Limits


class PlainPatient(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    mrn = fields.TextField()
    ssn = fields.TextField()
    given_name = fields.TextField()
    family_name = fields.TextField()
    birth_date = fields.TextField()
    phone = fields.TextField()
    email = fields.TextField()
    street = fields.TextField()
    city = fields.TextField()
    zip = fields.TextField()

    class Meta:
        table = "bench_plain_patient"


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


# The parse and validation cache is not protection: the control keeps it, as the product does,
# so the ratio compares the guard and nothing else.
control_schema = strawberry.Schema(
    query=Query, extensions=[Documents(Limits().max_tokens, rules=()).extension]
)
