"""Roles, PHI categories and purposes of use: the vocabulary of the policy."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PHYSICIAN = "physician"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    PATIENT = "patient"
    RESEARCHER = "researcher"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Category(StrEnum):
    """What kind of identifier or clinical datum a PHI field holds (Safe Harbor + clinical)."""

    NAME = "NAME"
    SSN = "SSN"
    MRN = "MRN"
    DATE = "DATE"
    ADDRESS = "ADDRESS"
    ZIP = "ZIP"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    DIAGNOSIS = "DIAGNOSIS"
    LAB = "LAB"
    NOTE = "NOTE"


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


class ProxyScope(StrEnum):
    """What a patient lets a proxy (parent, caregiver) see."""

    FULL = "FULL"
    DEMOGRAPHICS = "DEMOGRAPHICS"
    CLINICAL = "CLINICAL"
