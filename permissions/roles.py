"""Roles, PHI categories and purposes of use: the vocabulary of the policy.

Roles and proxy scopes are stored in the database, so they are defined with the models
(models/vocabulary.py) and named here with the rest of the vocabulary.
"""

from __future__ import annotations

from enum import StrEnum

from models.vocabulary import ProxyScope, Role

__all__ = ["Capability", "Category", "Decision", "ProxyScope", "Purpose", "Role"]


class Category(StrEnum):
    """What kind of identifier or clinical datum a PHI field holds (Safe Harbor + clinical)."""

    NAME = "NAME"
    SSN = "SSN"
    MRN = "MRN"
    DATE = "DATE"
    GENDER = "GENDER"
    """Administrative gender (FHIR): not a Safe Harbor identifier, so reports keep it."""
    ADDRESS = "ADDRESS"
    ZIP = "ZIP"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    DIAGNOSIS = "DIAGNOSIS"
    LAB = "LAB"
    NOTE = "NOTE"


DEMOGRAPHICS = frozenset(
    {
        Category.NAME,
        Category.DATE,
        Category.GENDER,
        Category.ADDRESS,
        Category.ZIP,
        Category.PHONE,
        Category.EMAIL,
    }
)
"""Who the patient is and how to reach them: the OAuth2 scope `phi.demographics` and a
demographics proxy grant. Identifiers (SSN, MRN) are not demographics in either vocabulary."""


class Decision(StrEnum):
    ALLOW = "ALLOW"
    MASK = "MASK"
    DENY = "DENY"
    DEIDENTIFY = "DEIDENTIFY"


class Purpose(StrEnum):
    """Purpose of use, recorded with every access (HL7 PurposeOfUse, abridged)."""

    TREATMENT = "TREATMENT"
    PAYMENT = "PAYMENT"
    OPERATIONS = "OPERATIONS"
    PATIENT_REQUEST = "PATIENT_REQUEST"
    RESEARCH = "RESEARCH"
    EMERGENCY = "EMERGENCY"
    SECURITY = "SECURITY"
    """Authentication and account events."""


class Capability(StrEnum):
    """What a principal may do beyond reading patients' fields (policy.CAPABILITIES says who);
    the value is the refusal's message."""

    AUDIT_TRAIL = "Only auditors may read the audit trail"
    ACCESS_LOG = "Only patients have an access log"
    BREAK_GLASS = "Only physicians may open emergency access"
    MANAGE_USERS = "Only admins may manage accounts"
    MANAGE_ORGANIZATIONS = "Only admins may manage organizations"
    MANAGE_CARE_TEAMS = "Only admins may manage care teams"
    MANAGE_CLIENTS = "Only admins may manage OAuth2 clients"
    OWN_PROXIES = "Only patients may manage who acts for them"
    RECORD_PROXY = "Only front desk staff may record a proxy grant for a patient"
