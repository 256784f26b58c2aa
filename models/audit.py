"""Audit records (HIPAA 164.312(b)). Identifiers only: public ids, never PHI values.

Both tables are append-only: migration 0008 installs triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

import json

from tortoise import fields
from tortoise.models import Model


class AuditEvent(Model):
    """One security event, or the PHI fields one request resolved on one patient with one
    decision and purpose. Grouping a request's field accesses this way keeps every field on
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
    """The fields read, by object: `{"patients.edges.3.node": ["Patient.ssn", "Patient.mrn@id"]}`
    (`@key`: asked under an alias). `accessed()` expands it to (field, path) pairs."""
    recorded_at = fields.DatetimeField(db_default=fields.Now())
    """When the database stored the row (its clock, not the app's): the sealer's settle rule."""

    class Meta:
        table = "audit_event"
        indexes = (("patient", "at"), ("actor", "at"))

    def accessed(self) -> list[tuple[str, str]]:
        """The `(field, path)` pairs this record covers, in the order they were resolved."""
        pairs = []
        for prefix, entries in json.loads(self.phi_fields or "{}").items():
            for entry in entries:
                field, _, alias = entry.partition("@")
                key = alias or field.rpartition(".")[2]
                pairs.append((field, f"{prefix}.{key}" if prefix else key))
        return pairs


class AuditSeal(Model):
    """One sealed batch of audit rows: the ids after the previous batch up to `last_id`.

    `entries` holds, per row in id order, its id (8 bytes) and the first 16 bytes of the
    SHA-256 of its canonical encoding, so verification names the row that changed, vanished or
    appeared. `digest` chains the batch to the previous one; `mac` authenticates the digest
    under the audit key (wrapped by the key provider), so recomputing the chain without the
    master key is caught as well."""

    id = fields.BigIntField(primary_key=True)
    batch = fields.BigIntField(unique=True)
    """1, 2, 3...: unique, so two sealers racing cannot both append the same batch."""
    first_id = fields.BigIntField()
    last_id = fields.BigIntField()
    row_count = fields.IntField()
    entries = fields.BinaryField()
    prev_digest = fields.BinaryField()
    digest = fields.BinaryField()
    key_version = fields.IntField()
    mac = fields.BinaryField()
    sealed_at = fields.DatetimeField()

    class Meta:
        table = "audit_seal"


class ExportWindow(Model):
    """A distinct patient whose PHI an actor resolved in one clock hour (the export budget).

    Not part of the audit trail: past windows are pruned by the sealer."""

    id = fields.BigIntField(primary_key=True)
    actor = fields.CharField(max_length=64)
    hour = fields.BigIntField()
    """Hours since the Unix epoch (UTC)."""
    patient = fields.CharField(max_length=40)

    class Meta:
        table = "export_window"
        unique_together = (("actor", "hour", "patient"),)


class AuditCheckpoint(Model):
    """A point of the seal chain, authenticated by an HMAC under the audit key: where `audit
    verify` last found the chain sound (`verified`), or where the live chain starts after older
    months were archived (`archived`). Rows are only ever added; the newest authentic one of a
    kind counts (audit/checkpoint.py)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=20)
    batch = fields.BigIntField()
    last_id = fields.BigIntField()
    digest = fields.BinaryField()
    sealed_rows = fields.BigIntField()
    """Rows sealed up to and including `batch`, from the first batch ever."""
    key_version = fields.IntField()
    mac = fields.BinaryField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "audit_checkpoint"
