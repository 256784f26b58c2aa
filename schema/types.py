"""GraphQL object types. Every field whose data comes from a sealed column is declared `phi()`.

PHI fields are nullable on purpose: a denied field is null with a FORBIDDEN error at its path,
and the rest of the object still resolves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

import models
from models.vocabulary import GENDER_TEXT
from permissions.counting import COUNT_LIMIT
from permissions.roles import Category, Role
from permissions.rows import Subject
from schema.phi import earlier, phi
from schema.scalars import PartialDate

EntryStatus = strawberry.enum(models.EntryStatus, name="EntryStatus")

_CLINICAL_WRITERS = (Role.FRONT_DESK, Role.PHYSICIAN, Role.NURSE)
"""Who starts an encounter: registration at arrival, or the clinician seeing the patient."""


@strawberry.interface(description="An object with an opaque, stable id.")
class Node:
    id: strawberry.ID


@strawberry.type
class Encounter(Node):
    row: strawberry.Private[models.Encounter]
    subject: strawberry.Private[Subject]

    # The kind says what happened (EMERGENCY, INPATIENT): guarded with the diagnoses, which
    # billing reads (it bills by it) and registration does not.
    kind: str | None = phi(
        Category.DIAGNOSIS,
        column="kind",
        write=_CLINICAL_WRITERS,
        description="OUTPATIENT, INPATIENT, EMERGENCY or VIRTUAL.",
    )
    start_date: PartialDate | None = phi(
        Category.DATE, column="start_date", write=_CLINICAL_WRITERS
    )


@strawberry.interface(
    description=(
        "A clinical entry that is amended, never deleted: `version` is raised by every "
        "amendment, `status` says whether it stands, was amended or was entered in error."
    )
)
class ClinicalEntry(Node):
    version: int
    status: EntryStatus  # type: ignore[valid-type]


@strawberry.type
class Diagnosis(ClinicalEntry):
    row: strawberry.Private[models.Diagnosis]
    subject: strawberry.Private[Subject]

    code: str | None = phi(
        Category.DIAGNOSIS,
        column="code",
        description="ICD-10-CM code, or `SNOMED:<concept id>` for a SNOMED CT-coded import.",
    )
    description: str | None = phi(Category.DIAGNOSIS, column="description")
    recorded_date: PartialDate | None = phi(
        Category.DATE, column="recorded_date", write=(Role.PHYSICIAN,)
    )

    @strawberry.field(description="Earlier versions, oldest first.")
    async def history(self, info: Info[Any, None]) -> list[DiagnosisRevision]:
        return await _revisions(info.context.loaders.diagnosis_revisions, self, DiagnosisRevision)


@strawberry.type
class Observation(ClinicalEntry):
    row: strawberry.Private[models.Observation]
    subject: strawberry.Private[Subject]

    code: str | None = phi(Category.LAB, column="code", description="LOINC code.")
    value: str | None = phi(Category.LAB, column="value")
    unit: str | None = phi(
        Category.LAB, column="unit", description="UCUM unit: it names the test, so it is LAB."
    )
    effective_date: PartialDate | None = phi(
        Category.DATE, column="effective_date", write=(Role.NURSE,)
    )

    @strawberry.field(description="Earlier versions, oldest first.")
    async def history(self, info: Info[Any, None]) -> list[ObservationRevision]:
        return await _revisions(
            info.context.loaders.observation_revisions, self, ObservationRevision
        )


@strawberry.type
class ClinicalNote(ClinicalEntry):
    row: strawberry.Private[models.ClinicalNote]
    subject: strawberry.Private[Subject]

    text: str | None = phi(Category.NOTE, column="text")
    authored_date: PartialDate | None = phi(
        Category.DATE, column="authored_date", write=(Role.PHYSICIAN, Role.NURSE)
    )

    @strawberry.field(description="Earlier versions, oldest first.")
    async def history(self, info: Info[Any, None]) -> list[ClinicalNoteRevision]:
        return await _revisions(info.context.loaders.note_revisions, self, ClinicalNoteRevision)


@strawberry.interface(
    description="An entry as it was before one amendment: who made it, when, why, which fields."
)
class EntryRevision(Node):
    row: strawberry.Private[Any]
    """The revision row: a `models.DiagnosisRevision`, `ObservationRevision`..."""
    subject: strawberry.Private[Subject]
    version: int = strawberry.field(description="The version these values belonged to.")
    status: EntryStatus  # type: ignore[valid-type]
    changed: list[str] = strawberry.field(description="The fields the amendment set.")
    at: datetime
    actor: str = strawberry.field(description="Public id of who amended it.")
    role: str


def _reason(category: Category) -> Any:
    return phi(category, column="reason", description="Why, as stated.")


@strawberry.type
class DiagnosisRevision(EntryRevision):
    reason: str | None = _reason(Category.DIAGNOSIS)
    code: str | None = earlier(Diagnosis, "code")
    description: str | None = earlier(Diagnosis, "description")
    recorded_date: PartialDate | None = earlier(Diagnosis, "recorded_date")


@strawberry.type
class ObservationRevision(EntryRevision):
    reason: str | None = _reason(Category.LAB)
    code: str | None = earlier(Observation, "code")
    value: str | None = earlier(Observation, "value")
    unit: str | None = earlier(Observation, "unit")
    effective_date: PartialDate | None = earlier(Observation, "effective_date")


@strawberry.type
class ClinicalNoteRevision(EntryRevision):
    reason: str | None = _reason(Category.NOTE)
    text: str | None = earlier(ClinicalNote, "text")
    authored_date: PartialDate | None = earlier(ClinicalNote, "authored_date")


Revision = TypeVar("Revision", DiagnosisRevision, ObservationRevision, ClinicalNoteRevision)


async def _revisions(
    loader: DataLoader[int, list[Any]], entry: Any, node: type[Revision]
) -> list[Revision]:
    rows = await loader.load(entry.row.id)
    subject: Subject = entry.subject
    return [
        node(
            id=strawberry.ID(subject.reference(row.public_id)),
            row=row,
            subject=subject,
            version=row.version,
            status=models.EntryStatus(row.status),
            changed=row.changed.split(","),
            at=row.at,
            actor=row.actor,
            role=row.role,
        )
        for row in rows
    ]


Child = TypeVar("Child", Encounter, Diagnosis, Observation, ClinicalNote)


def child_node(node: type[Child], row: Any, subject: Subject) -> Child:
    """A child record's node. Its plain (non-PHI) columns are copied as attributes: resolved
    by graphql-core's default resolver, not through a strawberry resolver per value."""
    plain = {name: getattr(row, name) for name in _PLAIN_COLUMNS.get(node, ())}
    return node(
        id=strawberry.ID(subject.reference(row.public_id)), row=row, subject=subject, **plain
    )


_ENTRY_COLUMNS = ("version", "status")
_PLAIN_COLUMNS: dict[type[Node], tuple[str, ...]] = {
    Diagnosis: _ENTRY_COLUMNS,
    Observation: _ENTRY_COLUMNS,
    ClinicalNote: _ENTRY_COLUMNS,
}


_LISTED = (
    "Guarded as a whole like its {} entries: its length says how many there are, so a caller "
    "denied them gets FORBIDDEN here, not an empty or shorter list."
)


@strawberry.type
class Patient(Node):
    row: strawberry.Private[models.Patient]
    subject: strawberry.Private[Subject]

    mrn: str | None = phi(Category.MRN, column="mrn", description="Medical record number.")
    given_name: str | None = phi(Category.NAME, column="given_name")
    family_name: str | None = phi(Category.NAME, column="family_name")
    birth_date: PartialDate | None = phi(Category.DATE, column="birth_date", mask=(Role.NURSE,))
    gender: str | None = phi(Category.GENDER, column="gender", description=GENDER_TEXT)
    ssn: str | None = phi(Category.SSN, column="ssn")
    phone: str | None = phi(Category.PHONE, column="phone")
    email: str | None = phi(Category.EMAIL, column="email")
    street: str | None = phi(Category.ADDRESS, column="street")
    city: str | None = phi(Category.ADDRESS, column="city")
    zip: str | None = phi(Category.ZIP, column="zip")

    @strawberry.field
    async def encounters(self, info: Info[Any, None]) -> list[Encounter]:
        return await self._children(info.context.loaders.encounters, Encounter)

    @strawberry.field(description=_LISTED.format("DIAGNOSIS"))
    async def diagnoses(self, info: Info[Any, None]) -> list[Diagnosis] | None:
        if not self._listed(info, Category.DIAGNOSIS):
            return None
        return await self._children(info.context.loaders.diagnoses, Diagnosis)

    @strawberry.field(description=_LISTED.format("LAB"))
    async def observations(self, info: Info[Any, None]) -> list[Observation] | None:
        if not self._listed(info, Category.LAB):
            return None
        return await self._children(info.context.loaders.observations, Observation)

    @strawberry.field(description=_LISTED.format("NOTE"))
    async def notes(self, info: Info[Any, None]) -> list[ClinicalNote] | None:
        if not self._listed(info, Category.NOTE):
            return None
        return await self._children(info.context.loaders.notes, ClinicalNote)

    @strawberry.field(
        description="Raised by every change; `updatePatient` names the version it read."
    )
    def version(self) -> int:
        return self.row.version

    @strawberry.field(
        description=(
            "Earlier versions, oldest first: each change's previous values of the fields it "
            "changed, decided and audited like the current fields."
        )
    )
    async def history(self, info: Info[Any, None]) -> list[PatientRevision]:
        rows = await info.context.loaders.patient_revisions.load(self.row.id)
        return [PatientRevision.of(row, self.subject) for row in rows]

    def _listed(self, info: Info[Any, None], category: Category) -> bool:
        """Whether the list may be given; if not, it is null with a FORBIDDEN error at its
        path, denied the way the object pass denies a field (no exception raised)."""
        path = info.path
        text = ".".join(str(part) for part in path.as_list())
        if info.context.access.listing(self.subject, category, text):
            return True
        info.context.phi.denied.append((((path.key, info._raw_info.field_nodes),), path.prev))
        return False

    async def _children(self, loader: DataLoader[int, list[Any]], node: type[Child]) -> list[Child]:
        rows = await loader.load(self.row.id)
        return [child_node(node, row, self.subject) for row in rows]


@strawberry.type(
    description="A patient as it was before one change: who made it, when, why, which fields."
)
class PatientRevision(Node):
    row: strawberry.Private[models.PatientRevision]
    subject: strawberry.Private[Subject]
    version: int = strawberry.field(description="The version these values belonged to.")
    action: str
    changed: list[str] = strawberry.field(description="The fields the change set.")
    at: datetime
    actor: str = strawberry.field(description="Public id of who made the change.")
    role: str

    reason: str | None = phi(
        Category.NOTE, column="reason", allow=(Role.FRONT_DESK,), description="Why, as stated."
    )
    mrn: str | None = earlier(Patient, "mrn")
    given_name: str | None = earlier(Patient, "given_name")
    family_name: str | None = earlier(Patient, "family_name")
    birth_date: PartialDate | None = earlier(Patient, "birth_date")
    gender: str | None = earlier(Patient, "gender")
    ssn: str | None = earlier(Patient, "ssn")
    phone: str | None = earlier(Patient, "phone")
    email: str | None = earlier(Patient, "email")
    street: str | None = earlier(Patient, "street")
    city: str | None = earlier(Patient, "city")
    zip: str | None = earlier(Patient, "zip")

    @classmethod
    def of(cls, row: models.PatientRevision, subject: Subject) -> PatientRevision:
        return cls(
            id=strawberry.ID(subject.reference(row.public_id)),
            row=row,
            subject=subject,
            version=row.version,
            action=row.action,
            changed=row.changed.split(","),
            at=row.at,
            actor=row.actor,
            role=row.role,
        )


@strawberry.type
class PatientEdge:
    cursor: str
    node: Patient


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class PatientConnection:
    edges: list[PatientEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description=(
            f"How many patients the list holds, counted up to {COUNT_LIMIT:,}: beyond that it "
            f"is {COUNT_LIMIT:,} and `totalCountExact` is false (an exact count would read "
            "every row of a large hospital on every page)."
        )
    )
    total_count_exact: bool = strawberry.field(
        description="False when there are more than `totalCount` patients."
    )
