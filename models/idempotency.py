"""Idempotency keys: a retried mutation returns the record its first attempt wrote."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    """The first result of a mutation sent with an `Idempotency-Key`, per principal. Holds a
    reference to the record written, never its values (they are PHI): a retry reads that
    record through the guard like any read."""

    id = fields.BigIntField(primary_key=True)
    actor = fields.CharField(max_length=64)
    key_hash = fields.BinaryField()
    """SHA-256 of the client's key: the key itself is a bearer of nothing, but not ours."""
    operation = fields.CharField(max_length=120)
    """The mutation and its target (`updatePatient:pat_...`): a key reused for another
    request is refused rather than answered with the wrong record."""
    fingerprint = fields.BinaryField(null=True)
    """Keyed digest of the request's arguments (resolvers/idempotency.py): never the values.
    None on a key remembered before migration 0025."""
    record_id = fields.CharField(max_length=40)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_key"
        unique_together = (("actor", "key_hash"),)
