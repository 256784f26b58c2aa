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
