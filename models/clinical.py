"""Clinical records of a patient. Codes, values, dates and text are sealed like demographics.

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


class Encounter(PublicModel):
    PUBLIC_ID_PREFIX = "enc"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="encounters", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(EncounterKind, max_length=20)
    start_date = SealedField()

    class Meta:
        table = "encounter"
        indexes = (("patient_id", "id"),)


class Diagnosis(PublicModel):
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


class Observation(PublicModel):
    PUBLIC_ID_PREFIX = "obs"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="observations", on_delete=fields.CASCADE
    )
    code = SealedField()
    value = SealedField()
    unit = fields.CharField(max_length=32)
    effective_date = SealedField()

    class Meta:
        table = "observation"
        indexes = (("patient_id", "id"),)


class ClinicalNote(PublicModel):
    PUBLIC_ID_PREFIX = "note"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="notes", on_delete=fields.CASCADE
    )
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="notes", null=True, on_delete=fields.SET_NULL
    )
    text = SealedField()
    authored_date = SealedField()

    class Meta:
        table = "clinical_note"
        indexes = (("patient_id", "id"),)
