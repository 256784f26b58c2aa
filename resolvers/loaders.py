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
    ClinicalRevision,
    Diagnosis,
    Encounter,
    Observation,
    PatientRevision,
)

Row = TypeVar("Row", bound=Model)


def children_of(model: type[Row]) -> DataLoader[int, list[Row]]:
    """Batches `model` rows by `patient_id`, in id order."""

    async def load(patient_pks: Sequence[int]) -> list[list[Row]]:
        grouped: dict[int, list[Row]] = defaultdict(list)
        for row in await model.filter(patient_id__in=list(patient_pks)).order_by("id"):
            grouped[row.patient_id].append(row)  # type: ignore[attr-defined]
        return [grouped[pk] for pk in patient_pks]

    return DataLoader(load_fn=load)


async def _clinical_revisions(entries: Sequence[str]) -> list[list[ClinicalRevision]]:
    grouped: dict[str, list[ClinicalRevision]] = defaultdict(list)
    for row in await ClinicalRevision.filter(entry__in=list(entries)).order_by("id"):
        grouped[row.entry].append(row)
    return [grouped[entry] for entry in entries]


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
    clinical_revisions: DataLoader[str, list[ClinicalRevision]] = field(
        default_factory=lambda: DataLoader(load_fn=_clinical_revisions)
    )
    """By the entry's public id."""
