"""Mutation inputs. They hold only what a client may state: no ids, versions, blind indexes
or organization (a field an input does not declare is refused by GraphQL validation), and
each field is named as the @phi field it writes (`RegisterPatientInput.ssn` writes
`Patient.ssn`), which is what the write decision is taken on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.utils.str_converters import to_camel_case

from models.vocabulary import GENDER_TEXT


@dataclass(frozen=True, slots=True)
class Provided:
    key: str
    """The input field's GraphQL name: its path in the input and the @phi field it writes."""
    column: str
    value: str | None
    """None: cleared (a partial update's explicit null)."""


def provided(value: Any, *, nulls: bool) -> list[Provided]:
    """The fields the client set, in declaration order. `nulls`: an explicit null is a value
    (clear it); otherwise it is the same as leaving the field out."""
    definition: StrawberryObjectDefinition = value.__strawberry_definition__
    found = []
    for field in definition.fields:
        stated = getattr(value, field.python_name)
        if stated is strawberry.UNSET or (stated is None and not nulls):
            continue
        key = field.graphql_name or to_camel_case(field.python_name)
        found.append(Provided(key, field.python_name, stated))
    return found


@strawberry.input(description="A new patient. Values are validated, sealed and indexed.")
class RegisterPatientInput:
    mrn: str = strawberry.field(description="4-20 letters, digits, dashes; unique here.")
    given_name: str
    family_name: str
    birth_date: str = strawberry.field(description="YYYY-MM-DD, not in the future.")
    gender: str | None = strawberry.field(default=None, description=GENDER_TEXT)
    ssn: str | None = strawberry.field(default=None, description="NNN-NN-NNNN.")
    phone: str | None = strawberry.field(default=None, description="NANP or +E.164.")
    email: str | None = None
    street: str | None = None
    city: str | None = None
    zip: str | None = strawberry.field(default=None, description="NNNNN or NNNNN-NNNN.")


@strawberry.input(
    description=(
        "The fields to change, and only those: a field left out is kept, an explicit null "
        "clears an optional field. Every field must be writable by the caller, or nothing is."
    )
)
class PatientChanges:
    mrn: str | None = strawberry.UNSET
    given_name: str | None = strawberry.UNSET
    family_name: str | None = strawberry.UNSET
    birth_date: str | None = strawberry.UNSET
    gender: str | None = strawberry.field(default=strawberry.UNSET, description=GENDER_TEXT)
    ssn: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    street: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    zip: str | None = strawberry.UNSET


_NEW = "A new {}: every field must be writable by the caller, or nothing is written."
_AMEND = (
    "The fields of the {} to change, and only those (a field left out is kept). "
    "`enteredInError: true` marks it entered in error: it stays on record, labelled."
)
_DATE = "YYYY-MM-DD, not in the future."


@strawberry.input(description=_NEW.format("diagnosis"))
class NewDiagnosis:
    code: str = strawberry.field(description="ICD-10-CM, e.g. E11.9.")
    description: str
    recorded_date: str = strawberry.field(description=_DATE)


@strawberry.input(description=_AMEND.format("diagnosis"))
class DiagnosisChanges:
    code: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    recorded_date: str | None = strawberry.UNSET
    entered_in_error: bool | None = strawberry.UNSET


@strawberry.input(description=_NEW.format("observation"))
class NewObservation:
    code: str = strawberry.field(description="LOINC, NNNNN-N with its check digit.")
    value: str
    unit: str | None = None
    effective_date: str = strawberry.field(description=_DATE)


@strawberry.input(description=_AMEND.format("observation"))
class ObservationChanges:
    code: str | None = strawberry.UNSET
    value: str | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    effective_date: str | None = strawberry.UNSET
    entered_in_error: bool | None = strawberry.UNSET


@strawberry.input(description=_NEW.format("clinical note"))
class NewNote:
    text: str
    authored_date: str = strawberry.field(description=_DATE)


@strawberry.input(description=_AMEND.format("clinical note"))
class NoteChanges:
    text: str | None = strawberry.UNSET
    authored_date: str | None = strawberry.UNSET
    entered_in_error: bool | None = strawberry.UNSET


@strawberry.input(description=_NEW.format("encounter"))
class NewEncounter:
    kind: str = strawberry.field(description="OUTPATIENT, INPATIENT, EMERGENCY or VIRTUAL.")
    start_date: str = strawberry.field(description=_DATE)
