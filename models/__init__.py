"""Tortoise ORM models. PHI columns are `SealedField`s: ciphertext only, never plaintext."""

from models.audit import AuditCheckpoint, AuditEvent, AuditSeal, ExportWindow
from models.auth import AuthSession, Device, Passkey, RecoveryCode, SessionStage, Throttle
from models.break_glass import BreakGlassGrant
from models.clinical import (
    ClinicalNote,
    Diagnosis,
    Encounter,
    EncounterKind,
    EntryStatus,
    Observation,
)
from models.documents import TrustedDocument
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
from models.revisions import (
    ClinicalNoteRevision,
    DiagnosisRevision,
    ObservationRevision,
    PatientRevision,
)
from models.sources import FhirSource
from models.tally import ReportCell, ReportContribution, ReportTally

__all__ = [
    "AccessToken",
    "AuditCheckpoint",
    "AuditEvent",
    "AuditSeal",
    "AuthSession",
    "AuthorizationCode",
    "BreakGlassGrant",
    "CareTeamAssignment",
    "ClientAssertion",
    "ClientAuthMethod",
    "ClinicalNote",
    "ClinicalNoteRevision",
    "DataKey",
    "Device",
    "Diagnosis",
    "DiagnosisRevision",
    "Encounter",
    "EncounterKind",
    "EntryStatus",
    "ExportWindow",
    "FhirSource",
    "IdempotencyKey",
    "KeyPurpose",
    "OAuthClient",
    "Observation",
    "ObservationRevision",
    "Organization",
    "Passkey",
    "Patient",
    "PatientRevision",
    "ProxyGrant",
    "RecoveryCode",
    "RefreshToken",
    "ReportCell",
    "ReportContribution",
    "ReportTally",
    "SessionStage",
    "SigningKey",
    "Throttle",
    "TokenFamily",
    "TrustedDocument",
    "User",
]
