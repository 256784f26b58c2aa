"""Roles, PHI categories and purposes of use: the vocabulary of the policy."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    PHYSICIAN = "physician"
    NURSE = "nurse"
    FRONT_DESK = "front_desk"
    BILLING = "billing"
    PATIENT = "patient"
    RESEARCHER = "researcher"
    AUDITOR = "auditor"
    ADMIN = "admin"


class Category(str, Enum):
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


class Decision(str, Enum):
    ALLOW = "ALLOW"
    MASK = "MASK"
    DENY = "DENY"
    DEIDENTIFY = "DEIDENTIFY"


class Purpose(str, Enum):
    """Purpose of use, recorded with every access (HL7 PurposeOfUse, abridged)."""

    TREATMENT = "TREATMENT"
    PAYMENT = "PAYMENT"
    OPERATIONS = "OPERATIONS"
    PATIENT_REQUEST = "PATIENT_REQUEST"
    RESEARCH = "RESEARCH"
    EMERGENCY = "EMERGENCY"


class ProxyScope(str, Enum):
    """What a patient lets a proxy (parent, caregiver) see."""

    FULL = "FULL"
    DEMOGRAPHICS = "DEMOGRAPHICS"
    CLINICAL = "CLINICAL"
