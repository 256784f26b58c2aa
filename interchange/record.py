"""What an outbound FHIR answer reads of one patient, and what the decisions withheld of it.

The record is read as a GraphQL query through the served schema (api/fhir/reading.py), so every
value comes through the same object pass, decisions, audit records and export budget as any
GraphQL request: this module only names the selection and marks, in the result, each element
the caller was not given in full. A masked value is withheld too: its masked form is not a
valid value of the FHIR element it would fill (a masked SSN is no identifier).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import Enum, StrEnum
from types import MappingProxyType
from typing import Any, Final


class Part(StrEnum):
    """A part of a patient's record, by the GraphQL field that lists it."""

    PATIENT = "patient"
    ENCOUNTERS = "encounters"
    DIAGNOSES = "diagnoses"
    OBSERVATIONS = "observations"
    NOTES = "notes"


EVERYTHING: Final = frozenset(Part)

PATIENT_FIELDS: Final = (
    "mrn", "givenName", "familyName", "birthDate", "gender", "ssn", "phone", "email", "street",
    "city", "zip",
)  # fmt: skip
_ENTRY = ("id", "status")
LISTS: Mapping[Part, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {
        Part.ENCOUNTERS: ("Encounter", ("id", "kind", "startDate")),
        Part.DIAGNOSES: ("Diagnosis", (*_ENTRY, "code", "description", "recordedDate")),
        Part.OBSERVATIONS: ("Observation", (*_ENTRY, "code", "value", "unit", "effectiveDate")),
        Part.NOTES: ("ClinicalNote", (*_ENTRY, "text", "authoredDate")),
    }
)
"""Each list of the record: the GraphQL type of its entries and the fields read of them."""

ROOT: Final = "fhir"
"""The alias the patient is read under: the audit records' paths start `fhir.` for every
FHIR answer, which tells them from the same fields read by a GraphQL client."""


def document(parts: Iterable[Part]) -> str:
    """The GraphQL query reading `parts` of the patient `$id`."""
    wanted = frozenset(parts)
    selected = ["id"]
    if Part.PATIENT in wanted:
        selected.extend(PATIENT_FIELDS)
    for part, (_, fields) in LISTS.items():
        if part in wanted:
            selected.append(f"{part.value} {{ {' '.join(fields)} }}")
    return f"query FhirRecord($id: ID!) {{ {ROOT}: patient(id: $id) {{ {' '.join(selected)} }} }}"


class Withheld(Enum):
    """An element the caller's decisions did not give in full (denied, masked, or a value that
    would not open): left out of the resource, and the resource labelled."""

    WITHHELD = "withheld"


WITHHELD: Final = Withheld.WITHHELD

Path = Sequence[str | int]


def withhold(patient: dict[str, Any], refused: Iterable[Path], masked: frozenset[str]) -> None:
    """Mark in `patient` (the query's result under ROOT, changed in place) every element at a
    `refused` path (relative to the patient: `("ssn",)`, `("diagnoses",)`, `("notes", 0,
    "text")`) and every value of a field coordinate in `masked` (`Patient.ssn`)."""
    for path in refused:
        *parents, last = path
        holder: Any = patient
        for key in parents:
            holder = holder[key]
        holder[last] = WITHHELD
    _mask(patient, "Patient", masked)
    for part, (type_name, _) in LISTS.items():
        entries = patient.get(part.value)
        if isinstance(entries, list):
            for entry in entries:
                _mask(entry, type_name, masked)


def _mask(values: dict[str, Any], type_name: str, masked: frozenset[str]) -> None:
    for key, value in values.items():
        if value is not None and f"{type_name}.{key}" in masked:
            values[key] = WITHHELD
