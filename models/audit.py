"""Audit records (HIPAA 164.312(b)). Identifiers only: public ids, never PHI values."""

from __future__ import annotations

import json

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    """One security event, or the PHI fields one request resolved on one patient with one
    decision. Grouping a request's field accesses by (patient, decision) keeps every field on
    record while writing a row per patient instead of a row per field (bench/README.md)."""

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
    decision = fields.CharField(max_length=20, null=True)
    detail = fields.CharField(max_length=400, null=True)
    """What an operation did (key version, counts, archive id); never PHI or a secret."""
    phi_fields = fields.TextField(null=True)
    """JSON list of `[field, path]` pairs, e.g. `[["Patient.ssn", "patient.ssn"]]`."""

    class Meta:
        table = "audit_event"
        indexes = (("patient", "at"), ("actor", "at"))

    def accessed(self) -> list[tuple[str, str]]:
        """The `(field, path)` pairs this record covers, in the order they were resolved."""
        return [(field, path) for field, path in json.loads(self.phi_fields or "[]")]
