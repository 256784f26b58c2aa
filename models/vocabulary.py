"""Enums the database stores that the policy speaks in (permissions/roles.py names them too)."""

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


class ProxyScope(StrEnum):
    """What a patient lets a proxy (parent, caregiver) see."""

    FULL = "FULL"
    DEMOGRAPHICS = "DEMOGRAPHICS"
    CLINICAL = "CLINICAL"


GENDERS: tuple[str, ...] = ("male", "female", "other", "unknown")
"""FHIR R4 AdministrativeGender, the codes as FHIR spells them (Patient.gender)."""
GENDER_TEXT = "FHIR administrative gender: " + ", ".join(GENDERS) + "."
