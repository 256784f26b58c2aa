"""Aggregate counts over a report's patients, computed on de-identified values only.

Each fact is a patient (grouped by AGE_BAND, ZIP3) or, when the table has a diagnosis dimension
(DIAGNOSIS, YEAR of the diagnosis), one of the patient's diagnoses not entered in error. A cell
counts distinct patients. Values come through a `Read` (permissions.decisions.Access: decided as
the source field is in a report, audited per patient and field, de-identified at once), and the
table leaves through small-cell suppression.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from crypto.sealed import Sealed
from models import Diagnosis, EntryStatus, Patient
from permissions.deidentify import age_band, deidentify_date, deidentify_zip
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
    """The @phi field of that column: its decision is the dimension's, and its name is on
    the audit trail."""
    transform: Callable[[str, date], str | None]


def _code(value: str, _: object) -> str:
    return value


def _zip3(value: str, _: object) -> str | None:
    return deidentify_zip(value)


SOURCES: dict[Dimension, Source] = {
    Dimension.DIAGNOSIS: Source(True, "code", "Diagnosis.code", _code),
    Dimension.YEAR: Source(True, "recorded_date", "Diagnosis.recordedDate", deidentify_date),
    Dimension.AGE_BAND: Source(False, "birth_date", "Patient.birthDate", age_band),
    Dimension.ZIP3: Source(False, "zip", "Patient.zip", _zip3),
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


Read = Callable[[str, Source, Sealed | None], str | None]
"""The de-identified value of one patient's sealed source value."""


def _values(read: Read, patient_id: str, row: object, sources: Sequence[Source]) -> Key:
    return tuple(read(patient_id, s, getattr(row, s.column)) or UNKNOWN for s in sources)


def ordered(by: Sequence[Dimension]) -> list[Dimension]:
    """The order of a table's key: patient dimensions first, then diagnosis ones (a fact's key
    is the two parts joined), each in the order asked."""
    return sorted(by, key=lambda d: SOURCES[d].per_diagnosis)


async def aggregate(read: Read, patients: QuerySet[Patient], by: Sequence[Dimension]) -> Table:
    dimensions = ordered(by)
    own = [SOURCES[d] for d in dimensions if not SOURCES[d].per_diagnosis]
    per_dx = [SOURCES[d] for d in dimensions if SOURCES[d].per_diagnosis]
    rows = await patients
    public = {row.id: row.public_id for row in rows}
    own_keys = {row.id: _values(read, row.public_id, row, own) for row in rows}
    members: dict[Key, set[int]] = defaultdict(set)
    if per_dx:
        # An entry made in error stays on record, but it is no fact about the patient.
        theirs = Diagnosis.filter(patient_id__in=Subquery(patients.values("id")))
        diagnoses = await theirs.exclude(status=EntryStatus.ENTERED_IN_ERROR)
        for dx in diagnoses:
            owner: int = dx.patient_id  # type: ignore[attr-defined]
            if owner not in public:
                continue  # registered after the patients were read
            dx_key = _values(read, public[owner], dx, per_dx)
            members[own_keys[owner] + dx_key].add(owner)
    else:
        for pk, key in own_keys.items():
            members[key].add(pk)
    counts = {key: len(pks) for key, pks in members.items()}
    return table(counts, len(set[int]().union(*members.values())), dimensions)


def table(counts: Mapping[Key, int], total: int, dimensions: Sequence[Dimension]) -> Table:
    """The table of `counts` (keys in `ordered` order), small cells withheld; `total`: the
    distinct patients the cells count."""
    withheld = suppress(counts, len(dimensions))
    return Table(
        cells=[
            Cell(dict(zip(dimensions, key, strict=True)), counts[key])
            for key in sorted(counts)
            if key not in withheld
        ],
        suppressed=len(withheld),
        total=total if total >= THRESHOLD else None,
    )
