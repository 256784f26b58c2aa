"""Tortoise ORM models. PHI columns are `SealedField`s: ciphertext only, never plaintext."""

from models.audit import AuditEvent
from models.auth import AuthSession, Device, RecoveryCode, SessionStage, Throttle
from models.clinical import ClinicalNote, Diagnosis, Encounter, EncounterKind, Observation
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

__all__ = [
    "AccessToken",
    "AuditEvent",
    "AuthSession",
    "AuthorizationCode",
    "CareTeamAssignment",
    "ClientAssertion",
    "ClientAuthMethod",
    "ClinicalNote",
    "DataKey",
    "Device",
    "Diagnosis",
    "Encounter",
    "EncounterKind",
    "KeyPurpose",
    "OAuthClient",
    "Observation",
    "Organization",
    "Patient",
    "ProxyGrant",
    "RecoveryCode",
    "RefreshToken",
    "SessionStage",
    "SigningKey",
    "Throttle",
    "TokenFamily",
    "User",
]
