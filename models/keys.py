"""Wrapped data keys. Only the key provider (KEK) can unwrap them; the database never holds a
usable key, so a database dump or backup alone opens nothing."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class KeyPurpose(StrEnum):
    DATA = "data"
    BLIND_INDEX = "blind_index"
    AUDIT = "audit"
    """Authenticates the audit chain's seals."""


class DataKey(Model):
    id = fields.BigIntField(primary_key=True)
    purpose = fields.CharEnumField(KeyPurpose, max_length=20)
    version = fields.IntField()
    provider = fields.CharField(max_length=40)
    wrapped = fields.BinaryField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "data_key"
        unique_together = (("purpose", "version"),)
