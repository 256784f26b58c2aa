"""Revisions: the values a change replaced, sealed again under the revision's own binding
(HIPAA integrity, 164.312(c)). Written in the change's transaction, never updated."""

from __future__ import annotations

from tortoise import fields

from models.base import PublicModel, SealedField
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
    ssn = SealedField(null=True)
    phone = SealedField(null=True)
    email = SealedField(null=True)
    street = SealedField(null=True)
    city = SealedField(null=True)
    zip = SealedField(null=True)

    class Meta:
        table = "patient_revision"
        unique_together = (("patient", "version"),)


class ClinicalRevision(PublicModel):
    """A diagnosis, observation or clinical note (`entry`, its public id) as it was at
    `version`, before `actor` amended `changed` at `at`: the previous status, and the previous
    values of the changed columns (the others are null). One table for the three kinds: each
    column belongs to one kind, and the entry's id prefix says which."""

    PUBLIC_ID_PREFIX = "crev"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="clinical_revisions", on_delete=fields.CASCADE
    )
    entry = fields.CharField(max_length=40)
    version = fields.IntField()
    status = fields.CharField(max_length=20)
    changed = fields.CharField(max_length=400)
    """The GraphQL names of the fields the amendment set, comma-separated."""
    actor = fields.CharField(max_length=64)
    role = fields.CharField(max_length=20)
    at = fields.DatetimeField()
    reason = SealedField(null=True)
    code = SealedField(null=True)
    description = SealedField(null=True)
    recorded_date = SealedField(null=True)
    value = SealedField(null=True)
    unit = SealedField(null=True)
    effective_date = SealedField(null=True)
    text = SealedField(null=True)
    authored_date = SealedField(null=True)

    class Meta:
        table = "clinical_revision"
        unique_together = (("entry", "version"),)
