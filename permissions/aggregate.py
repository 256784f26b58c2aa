"""Aggregate counts over a report's patients, computed on de-identified values only.

Each fact is a patient (grouped by AGE_BAND, ZIP3) or, when the table has a diagnosis dimension
(DIAGNOSIS, YEAR of the diagnosis), one of the patient's diagnoses. A cell counts distinct
patients. Values are opened through `ReportReader` (audited DEIDENTIFY per patient and field),
reduced by Safe Harbor at once, and the table leaves through small-cell suppression.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from models import Diagnosis, Patient
from permissions.deidentify import age_band, deidentify_date, deidentify_zip
from permissions.report_reads import ReportDenied, ReportReader, Transform
from permissions.roles import Category, Decision
from permissions.suppression import THRESHOLD, Key, suppress

UNKNOWN = "unknown"
"""The key of a value that is missing or withheld (a date 90 or more years back)."""


class Dimension(StrEnum):
    DIAGNOSIS = "DIAGNOSIS"
    AGE_BAND = "AGE_BAND"
    ZIP3 = "ZIP3"
    YEAR = "YEAR"


@dataclass(frozen=True, slots=True)
class Source:
    """Where a dimension's value comes from, and how it is de-identified."""

    per_diagnosis: bool
    column: str
    field: str
    """The schema field of that column, for the audit trail."""
    category: Category
    transform: Transform


def _code(value: str, _: object) -> str:
    return value


def _zip3(value: str, _: object) -> str | None:
    return deidentify_zip(value)


SOURCES: dict[Dimension, Source] = {
    Dimension.DIAGNOSIS: Source(True, "code", "Diagnosis.code", Category.DIAGNOSIS, _code),
    Dimension.YEAR: Source(
        True, "recorded_date", "Diagnosis.recordedDate", Category.DATE, deidentify_date
    ),
    Dimension.AGE_BAND: Source(False, "birth_date", "Patient.birthDate", Category.DATE, age_band),
    Dimension.ZIP3: Source(False, "zip", "Patient.zip", Category.ZIP, _zip3),
}


@dataclass(frozen=True, slots=True)
class Cell:
    key: dict[Dimension, str]
    count: int


@dataclass(frozen=True, slots=True)
class Table:
    cells: list[Cell]
    """Cells shown, in key order; withheld and empty cells are absent."""
    suppressed: int
    """How many cells were withheld."""
    total: int | None
    """Distinct patients counted in the table; None below the threshold."""


def _values(
    reader: ReportReader, patient_id: str, row: object, sources: Sequence[Source], path: str
) -> Key:
    return tuple(
        reader.read(patient_id, s.field, path, s.category, getattr(row, s.column), s.transform)
        or UNKNOWN
        for s in sources
    )


async def aggregate(
    reader: ReportReader, patients: QuerySet[Patient], by: Sequence[Dimension], path: str
) -> Table:
    """Raises ReportDenied, before reading anything, if a dimension's category is denied."""
    if any(reader.decision(SOURCES[d].category) is Decision.DENY for d in by):
        raise ReportDenied()
    # Patient dimensions first, then diagnosis ones: a fact's key is the two parts joined.
    dimensions = sorted(by, key=lambda d: SOURCES[d].per_diagnosis)
    own = [SOURCES[d] for d in dimensions if not SOURCES[d].per_diagnosis]
    per_dx = [SOURCES[d] for d in dimensions if SOURCES[d].per_diagnosis]
    rows = await patients
    public = {row.id: row.public_id for row in rows}
    own_keys = {row.id: _values(reader, row.public_id, row, own, path) for row in rows}
    members: dict[Key, set[int]] = defaultdict(set)
    if per_dx:
        diagnoses = await Diagnosis.filter(patient_id__in=Subquery(patients.values("id")))
        for dx in diagnoses:
            owner: int = dx.patient_id  # type: ignore[attr-defined]
            if owner not in public:
                continue  # registered after the patients were read
            dx_key = _values(reader, public[owner], dx, per_dx, path)
            members[own_keys[owner] + dx_key].add(owner)
    else:
        for pk, key in own_keys.items():
            members[key].add(pk)
    counts = {key: len(pks) for key, pks in members.items()}
    withheld = suppress(counts, len(dimensions))
    total = len(set[int]().union(*members.values()))
    return Table(
        cells=[
            Cell(dict(zip(dimensions, key, strict=True)), counts[key])
            for key in sorted(counts)
            if key not in withheld
        ],
        suppressed=len(withheld),
        total=total if total >= THRESHOLD else None,
    )
