"""Break-glass: a physician's time-limited emergency access to a patient outside their care."""

from __future__ import annotations

from tortoise import fields

from models.base import PublicModel, SealedField
from models.people import Patient, User


class BreakGlassGrant(PublicModel):
    """Open while `closed_at` is null and `expires_at` is in the future. The stated reason is
    free text that may name clinical facts, so it is sealed like PHI and read through `@phi`."""

    PUBLIC_ID_PREFIX = "bg"
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="break_glass_grants", on_delete=fields.RESTRICT
    )
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="break_glass_grants", on_delete=fields.RESTRICT
    )
    reason = SealedField()
    opened_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "break_glass_grant"
        indexes = (("user_id", "expires_at"), ("opened_at",))
