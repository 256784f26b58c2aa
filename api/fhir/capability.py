"""`GET /fhir/metadata`: the CapabilityStatement, what the facade serves (no sign-in needed)."""

from __future__ import annotations

from typing import Any, Final

from api.oauth.smart_metadata import capability_security
from interchange.systems import FHIR_VERSION

_DATE: Final = "2026-12-02"
"""When what this statement declares last changed."""
_PATIENT = {"name": "patient", "type": "reference", "documentation": "The patient's id."}
_CODE = {"name": "code", "type": "token", "documentation": "A LOINC code (system|code or code)."}
SEARCHES: Final = {
    "Condition": (_PATIENT,),
    "Observation": (_PATIENT, _CODE),
    "Encounter": (_PATIENT,),
    "DocumentReference": (_PATIENT,),
}
"""The search parameters of each searchable resource type (every search needs `patient`)."""


def security(base: str) -> dict[str, Any]:
    """`rest[0].security`: SMART's `oauth-uris` extension and service, on the server whose
    facade is `base` (`https://host/fhir`)."""
    return {
        **capability_security(base.removesuffix("/fhir")),
        "cors": True,
        "description": (
            "An OAuth2 bearer token (SMART v2 scopes or patient.read and phi.*) or a phigate "
            "session; every element is decided per field, and one left out is labelled REDACTED."
        ),
    }


def capability_statement(base: str) -> dict[str, Any]:
    patient = {
        "type": "Patient",
        "interaction": [{"code": "read"}],
        "operation": [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            }
        ],
    }
    searched = [
        {"type": name, "interaction": [{"code": "search-type"}], "searchParam": list(params)}
        for name, params in SEARCHES.items()
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": _DATE,
        "kind": "instance",
        "software": {"name": "phigate"},
        "implementation": {"description": "phigate FHIR R4 facade (read-only)", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [{"mode": "server", "security": security(base), "resource": [patient, *searched]}],
    }
