"""Clinical records of a patient. Codes, values, units, kinds, dates and text are sealed like
demographics: even the unit of a result or the kind of an encounter says what the test or the
visit was.

Every table is indexed on (patient_id, id): a patient's records are read by patient in id
order (resolvers/loaders.py), and billing's row access asks whether a patient has any
encounter; without the index both read the whole table whatever the patient."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from models.base import PublicModel, SealedField
from models.people import Patient, User


class EncounterKind(StrEnum):
    OUTPATIENT = "OUTPATIENT"
    INPATIENT = "INPATIENT"
    EMERGENCY = "EMERGENCY"
    VIRTUAL = "VIRTUAL"


class EntryStatus(StrEnum):
    """Where an entry stands. Nothing clinical is deleted: an entry made in error is marked so
    and stays on record (FHIR's `entered-in-error`); an amended one keeps its earlier versions
    in its history (FHIR's `amended`)."""

    CURRENT = "CURRENT"
    AMENDED = "AMENDED"
    ENTERED_IN_ERROR = "ENTERED_IN_ERROR"


class Encounter(PublicModel):
    PUBLIC_ID_PREFIX = "enc"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="encounters", on_delete=fields.CASCADE
    )
    kind = SealedField(null=True)
    """An `EncounterKind` value, sealed: EMERGENCY is a clinical fact."""
    start_date = SealedField()

    class Meta:
        table = "encounter"
        indexes = (("patient_id", "id"),)


class ClinicalEntry(PublicModel):
    """An amendable entry: a version raised by each amendment, and its status."""

    # Database defaults too: the entries recorded before versions existed get theirs.
    version = fields.IntField(default=1, db_default=1)
    status = fields.CharEnumField(
        EntryStatus, max_length=20, default=EntryStatus.CURRENT, db_default="CURRENT"
    )

    class Meta:
        abstract = True


class Diagnosis(ClinicalEntry):
    PUBLIC_ID_PREFIX = "dx"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="diagnoses", on_delete=fields.CASCADE
    )
    encounter: fields.ForeignKeyNullableRelation[Encounter] = fields.ForeignKeyField(
        "phigate.Encounter", related_name="diagnoses", null=True, on_delete=fields.SET_NULL
    )
    code = SealedField()
    description = SealedField()
    recorded_date = SealedField()

    class Meta:
        table = "diagnosis"
        indexes = (("patient_id", "id"),)


class Observation(ClinicalEntry):
    PUBLIC_ID_PREFIX = "obs"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="observations", on_delete=fields.CASCADE
    )
    code = SealedField()
    value = SealedField()
    unit = SealedField(null=True)
    effective_date = SealedField()

    class Meta:
        table = "observation"
        indexes = (("patient_id", "id"),)


class ClinicalNote(ClinicalEntry):
    PUBLIC_ID_PREFIX = "note"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="notes", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="notes", null=True, on_delete=fields.SET_NULL
    )
    encounter: fields.ForeignKeyNullableRelation[Encounter] = fields.ForeignKeyField(
        "phigate.Encounter", related_name="notes", null=True, on_delete=fields.SET_NULL
    )
    text = SealedField()
    authored_date = SealedField()

    class Meta:
        table = "clinical_note"
        indexes = (("patient_id", "id"),)
