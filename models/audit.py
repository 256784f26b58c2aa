"""Audit records (HIPAA 164.312(b)). Identifiers only: public ids, never PHI values."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    request_id = fields.CharField(max_length=64)
    event = fields.CharField(max_length=40)
    actor = fields.CharField(max_length=64)
    role = fields.CharField(max_length=20)
    client = fields.CharField(max_length=64, null=True)
    purpose = fields.CharField(max_length=20)
    ip = fields.CharField(max_length=64, null=True)
    patient = fields.CharField(max_length=40, null=True)
    field = fields.CharField(max_length=120, null=True)
    path = fields.CharField(max_length=400, null=True)
    decision = fields.CharField(max_length=20, null=True)

    class Meta:
        table = "audit_event"
        indexes = (("patient", "at"), ("actor", "at"))
