"""Per-request batch loaders, so a page of patients loads each kind of child in one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from models import (
    ClinicalNote,
    ClinicalNoteRevision,
    Diagnosis,
    DiagnosisRevision,
    Encounter,
    Observation,
    ObservationRevision,
    PatientRevision,
)

Row = TypeVar("Row", bound=Model)


def children_of(model: type[Row], parent: str = "patient_id") -> DataLoader[int, list[Row]]:
    """Batches `model` rows by their `parent` key (a patient's, an entry's), in id order."""

    async def load(parent_pks: Sequence[int]) -> list[list[Row]]:
        grouped: dict[int, list[Row]] = defaultdict(list)
        for row in await model.filter(**{f"{parent}__in": list(parent_pks)}).order_by("id"):
            grouped[getattr(row, parent)].append(row)
        return [grouped[pk] for pk in parent_pks]

    return DataLoader(load_fn=load)


@dataclass(slots=True)
class Loaders:
    encounters: DataLoader[int, list[Encounter]] = field(
        default_factory=lambda: children_of(Encounter)
    )
    diagnoses: DataLoader[int, list[Diagnosis]] = field(
        default_factory=lambda: children_of(Diagnosis)
    )
    observations: DataLoader[int, list[Observation]] = field(
        default_factory=lambda: children_of(Observation)
    )
    notes: DataLoader[int, list[ClinicalNote]] = field(
        default_factory=lambda: children_of(ClinicalNote)
    )
    patient_revisions: DataLoader[int, list[PatientRevision]] = field(
        default_factory=lambda: children_of(PatientRevision)
    )
    diagnosis_revisions: DataLoader[int, list[DiagnosisRevision]] = field(
        default_factory=lambda: children_of(DiagnosisRevision, "entry_id")
    )
    observation_revisions: DataLoader[int, list[ObservationRevision]] = field(
        default_factory=lambda: children_of(ObservationRevision, "entry_id")
    )
    note_revisions: DataLoader[int, list[ClinicalNoteRevision]] = field(
        default_factory=lambda: children_of(ClinicalNoteRevision, "entry_id")
    )
