"""Tortoise ORM models. PHI columns are `SealedField`s: ciphertext only, never plaintext."""

from models.audit import AuditEvent, AuditSeal, ExportWindow
from models.auth import AuthSession, Device, Passkey, RecoveryCode, SessionStage, Throttle
from models.break_glass import BreakGlassGrant
from models.clinical import ClinicalNote, Diagnosis, Encounter, EncounterKind, Observation
from models.idempotency import IdempotencyKey
from models.keys import DataKey, KeyPurpose
from models.oauth import (
    AccessToken,
    AuthorizationCode,
    ClientAssertion,
    ClientAuthMethod,
    OAuthClient,
    RefreshToken,
    SigningKey,
    TokenFamily,
)
from models.people import CareTeamAssignment, Organization, Patient, ProxyGrant, User
from models.revisions import PatientRevision

__all__ = [
    "AccessToken",
    "AuditEvent",
    "AuditSeal",
    "AuthSession",
    "AuthorizationCode",
    "BreakGlassGrant",
    "CareTeamAssignment",
    "ClientAssertion",
    "ClientAuthMethod",
    "ClinicalNote",
    "DataKey",
    "Device",
    "Diagnosis",
    "Encounter",
    "EncounterKind",
    "ExportWindow",
    "IdempotencyKey",
    "KeyPurpose",
    "OAuthClient",
    "Observation",
    "Organization",
    "Passkey",
    "Patient",
    "PatientRevision",
    "ProxyGrant",
    "RecoveryCode",
    "RefreshToken",
    "SessionStage",
    "SigningKey",
    "Throttle",
    "TokenFamily",
    "User",
]
