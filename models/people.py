"""Organizations, users, patients and who is related to whom."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import ClassVar

from tortoise import fields
from tortoise.models import Model

from crypto.blind_index import IndexKind, blind_index
from crypto.keyring import Keyring
from models.base import PublicModel, SealedField, SecretField
from models.vocabulary import ProxyScope, Role

SHUFFLE_BITS = 31
"""`Patient.report_shuffle` is below 2**31: a signed 32-bit integer on every database."""


class Organization(PublicModel):
    PUBLIC_ID_PREFIX = "org"
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization"


class User(PublicModel):
    """A staff member, patient portal account or service account. Usernames are not PHI."""

    PUBLIC_ID_PREFIX = "usr"
    username = fields.CharField(max_length=150, unique=True)
    role = fields.CharEnumField(Role, max_length=20)
    password_hash = fields.CharField(max_length=255)
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "phigate.Organization", related_name="users", null=True, on_delete=fields.RESTRICT
    )
    is_active = fields.BooleanField(default=True)
    """False once disabled: the account and its history stay, it can no longer sign in."""
    must_change_password = fields.BooleanField(default=False)
    """Set on a one-time initial password: the next login must choose a new one first."""
    totp_secret = SecretField(null=True)
    totp_confirmed = fields.BooleanField(default=False)
    totp_last_step = fields.BigIntField(null=True)
    """The last TOTP time step accepted: a code at or before it is a replay."""
    allowed_networks = fields.TextField(null=True)
    """Comma-separated CIDRs this user may connect from, on top of the role's allowlist."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "app_user"


class Patient(PublicModel):
    """Every identifying or clinical attribute is a sealed column. Lookups go by blind index."""

    PUBLIC_ID_PREFIX = "pat"
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "phigate.Organization", related_name="patients", on_delete=fields.RESTRICT
    )
    user: fields.OneToOneNullableRelation[User] = fields.OneToOneField(
        "phigate.User", related_name="patient_record", null=True, on_delete=fields.SET_NULL
    )
    mrn = SealedField()
    mrn_index = fields.BinaryField()
    ssn = SealedField(null=True)
    ssn_index = fields.BinaryField(null=True)
    given_name = SealedField()
    family_name = SealedField()
    birth_date = SealedField()
    gender = SealedField(null=True)
    """FHIR administrative gender: male, female, other or unknown."""
    phone = SealedField(null=True)
    email = SealedField(null=True)
    email_index = fields.BinaryField(null=True)
    street = SealedField(null=True)
    city = SealedField(null=True)
    zip = SealedField(null=True)
    version = fields.IntField(default=1)
    """Raised by every change: an update names the version it read (optimistic concurrency)."""
    created_at = fields.DatetimeField(auto_now_add=True)
    report_shuffle = fields.IntField(
        default=lambda: secrets.randbelow(1 << SHUFFLE_BITS), db_default=0
    )
    """Random, drawn once at registration: where the patient falls in every report's keyed
    order (permissions/report_order.py). Derived from nothing, so it tells a database reader
    nothing about the patient; it is never shown. The database default only lets migration 0020
    add the column to existing rows, which it then fills."""

    _INDEXED: ClassVar[dict[str, IndexKind]] = {
        "mrn": IndexKind.MRN,
        "ssn": IndexKind.SSN,
        "email": IndexKind.EMAIL,
    }

    class Meta:
        table = "patient"
        # MRNs are unique per organization; the blind index is what can be compared.
        unique_together = (("organization", "mrn_index"),)
        # A report reads one range of shuffle values at a time, over its organization or all,
        # and takes each member's id and public id from the index alone (migration 0022).
        indexes = (
            ("organization_id", "report_shuffle", "public_id", "id"),
            ("report_shuffle", "public_id", "id"),
        )

    def seal(self, keyring: Keyring, **plaintext: str | None) -> None:
        """Seal values and keep the blind index of each looked-up column in step with them."""
        super().seal(keyring, **plaintext)
        for column, kind in self._INDEXED.items():
            if column in plaintext:
                value = plaintext[column]
                index = None if value is None else blind_index(keyring, kind, value)
                setattr(self, f"{column}_index", index)

    @classmethod
    def with_indexes(cls, columns: Iterable[str]) -> list[str]:
        """The columns, and the blind index kept beside each looked-up one."""
        named = list(columns)
        return named + [f"{column}_index" for column in named if column in cls._INDEXED]

    def seal_identity(self, keyring: Keyring, **plaintext: str | None) -> None:
        self.seal(keyring, **plaintext)


class CareTeamAssignment(Model):
    """A clinician on a patient's care team: the basis of treatment access."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="assignments", on_delete=fields.CASCADE
    )
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="care_team", on_delete=fields.CASCADE
    )
    patient_public_id = fields.CharField(max_length=40)
    """The patient's public id (it never changes): a care team's page is in this order."""
    started_at = fields.DatetimeField(auto_now_add=True)
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "care_team_assignment"
        unique_together = (("user", "patient"),)
        # Row access asks for a user's current patients, and a page for them in public id
        # order: both are a range of this index read alone, not a heap page (or a patient
        # looked up) per patient of a team spread over a large table. `ended_at` comes last:
        # `IS NULL` before the public id would leave the range unordered (PostgreSQL orders
        # an index range only after equalities), and ended assignments are few.
        indexes = (("user_id", "patient_public_id", "patient_id", "ended_at"),)


NO_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC)
"""The expiry of a proxy grant that lasts until revoked: row access compares expiries only."""


class ProxyGrant(PublicModel):
    """A patient authorises another account (parent, caregiver) to see part of their record."""

    PUBLIC_ID_PREFIX = "pxy"
    patient: fields.ForeignKeyRelation[Patient] = fields.ForeignKeyField(
        "phigate.Patient", related_name="proxy_grants", on_delete=fields.CASCADE
    )
    grantee: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="proxy_for", on_delete=fields.CASCADE
    )
    scope = fields.CharEnumField(ProxyScope, max_length=20)
    expires_at = fields.DatetimeField()
    """Far in the future (NO_EXPIRY) for a grant that lasts until it is revoked."""
    revoked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    granted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "phigate.User", related_name="proxy_grants_recorded", null=True, on_delete=fields.RESTRICT
    )
    """Who recorded the grant: the patient, or staff acting on the patient's request in person."""
    reason = SealedField(null=True)
    """Why staff recorded it for the patient: free text that may name clinical facts, so sealed
    and read through `@phi` like a break-glass reason. Null when the patient granted it."""

    class Meta:
        table = "proxy_grant"
