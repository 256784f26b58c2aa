"""Trusted documents: the GraphQL documents the frontends were built with, registered by an
operator (`phigate documents register`) and sent by their hash instead of their text."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TrustedDocument(Model):
    """One registered document, by the SHA-256 of its exact text (what Apollo's persisted-query
    extension and the GraphQL-over-HTTP `documentId` send). A document is never changed:
    another text is another hash."""

    id = fields.BigIntField(primary_key=True)
    sha256 = fields.CharField(max_length=64, unique=True)
    body = fields.TextField()
    operations = fields.CharField(max_length=1000)
    """The names of the document's operations, space-separated: what a listing shows."""
    registered_at = fields.DatetimeField()

    class Meta:
        table = "trusted_document"
