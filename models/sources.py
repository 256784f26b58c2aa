"""Where imported records came from: one row per FHIR resource an import wrote, so importing
the same file again writes nothing new."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from crypto.blind_index import IndexKind, blind_index
from crypto.keyring import Keyring
from models.people import Organization


class FhirSource(Model):
    """A source resource (`Observation/abc`) and the record it became. The source key is kept
    as a blind index only: a resource id or identifier may itself be an identifier of the
    patient (an MRN in `Patient?identifier=`), so it is compared, never stored."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "phigate.Organization", related_name="fhir_sources", on_delete=fields.RESTRICT
    )
    key_index = fields.BinaryField()
    record = fields.CharField(max_length=40)
    """The public id of the record it became (`pat_...`, `obs_...`)."""
    patient = fields.CharField(max_length=40)
    """The public id of that record's patient."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "fhir_source"
        unique_together = (("organization", "key_index"),)

    def seal(self, keyring: Keyring, **plaintext: Any) -> None:
        """`key`: the source key, kept as its blind index (what `Sealer.seal` hands a row)."""
        self.key_index = blind_index(keyring, IndexKind.FHIR_SOURCE, plaintext["key"])
