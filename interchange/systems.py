"""The FHIR code and identifier systems phigate reads and writes, in one place."""

from __future__ import annotations

from typing import Final

FHIR_VERSION: Final = "4.0.1"

LOINC: Final = "http://loinc.org"
ICD10_CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"

US_SSN: Final = "http://hl7.org/fhir/sid/us-ssn"
IDENTIFIER_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
MEDICAL_RECORD_NUMBER: Final = "MR"
SOCIAL_SECURITY_NUMBER: Final = "SS"

# meta.security labels of an element left out by a decision (HL7 ObservationValue "REDACTED").
SECURITY_OBSERVATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED: Final = "REDACTED"

ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
"""Encounter classes (AMB, IMP, EMER, VR), both ways."""

# Import (interchange/inbound.py).
SNOMED_PREFIX: Final = "SNOMED:"
"""A diagnosis coded in SNOMED CT (Synthea's conditions) is stored as `SNOMED:44054006`; an
ICD-10-CM code is stored bare, as the API writes it."""
US_COUNTRIES: Final = frozenset({"US", "USA", "UNITED STATES"})

# Outbound (interchange/outbound.py).
MASKED_REASON: Final = "masked"
"""data-absent-reason code of a required element a decision left out."""
DATA_ABSENT_REASON: Final = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
CONDITION_VERIFICATION: Final = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
FHIR_JSON: Final = "application/fhir+json"
