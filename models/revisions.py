"""Revisions: the values a change replaced, sealed again under the revision's own binding
(HIPAA integrity, 164.312(c)). Written in the change's transaction, never updated."""

from __future__ import annotations

from tortoise import fields

from models.base import PublicModel, SealedField
from models.clinical import ClinicalNote, Diagnosis, Observation
from models.people import Patient


class PatientRevision(PublicModel):
    """Patient `patient` as it was at `version`, before `actor` changed `changed` at `at`.
    Only the changed columns hold a value; the others are null."""

    PUBLIC_ID_PREFIX = "rev"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="revisions", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    action = fields.CharField(max_length=10)
    changed = fields.CharField(max_length=400)
    """The GraphQL names of the fields the change set, comma-separated (names, not values)."""
    actor = fields.CharField(max_length=64)
    role = fields.CharField(max_length=20)
    at = fields.DatetimeField()
    reason = SealedField(null=True)
    mrn = SealedField(null=True)
    given_name = SealedField(null=True)
    family_name = SealedField(null=True)
    birth_date = SealedField(null=True)
    gender = SealedField(null=True)
    ssn = SealedField(null=True)
    phone = SealedField(null=True)
    email = SealedField(null=True)
    street = SealedField(null=True)
    city = SealedField(null=True)
    zip = SealedField(null=True)

    class Meta:
        table = "patient_revision"
        unique_together = (("patient", "version"),)


class EntryRevision(PublicModel):
    """A clinical entry as it was at `version`, before `actor` amended `changed` at `at`: its
    status then, and the previous values of the changed columns (the others are null)."""

    version = fields.IntField()
    status = fields.CharField(max_length=20)
    changed = fields.CharField(max_length=400)
    """The GraphQL names of the fields the amendment set, comma-separated."""
    actor = fields.CharField(max_length=64)
    role = fields.CharField(max_length=20)
    at = fields.DatetimeField()
    reason = SealedField(null=True)

    class Meta:
        abstract = True


class DiagnosisRevision(EntryRevision):
    PUBLIC_ID_PREFIX = "dxrev"
    entry: fields.ForeignKeyRelation[Diagnosis] = fields.ForeignKeyField(
        "phigate.Diagnosis", related_name="revisions", on_delete=fields.CASCADE
    )
    code = SealedField(null=True)
    description = SealedField(null=True)
    recorded_date = SealedField(null=True)

    class Meta:
        table = "diagnosis_revision"
        unique_together = (("entry", "version"),)


class ObservationRevision(EntryRevision):
    PUBLIC_ID_PREFIX = "obsrev"
    entry: fields.ForeignKeyRelation[Observation] = fields.ForeignKeyField(
        "phigate.Observation", related_name="revisions", on_delete=fields.CASCADE
    )
    code = SealedField(null=True)
    value = SealedField(null=True)
    unit = SealedField(null=True)
    effective_date = SealedField(null=True)

    class Meta:
        table = "observation_revision"
        unique_together = (("entry", "version"),)


class ClinicalNoteRevision(EntryRevision):
    PUBLIC_ID_PREFIX = "noterev"
    entry: fields.ForeignKeyRelation[ClinicalNote] = fields.ForeignKeyField(
        "phigate.ClinicalNote", related_name="revisions", on_delete=fields.CASCADE
    )
    text = SealedField(null=True)
    authored_date = SealedField(null=True)

    class Meta:
        table = "clinical_note_revision"
        unique_together = (("entry", "version"),)
