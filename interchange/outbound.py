"""phigate records out as FHIR R4 resources: Patient, Encounter, Condition, Observation and
DocumentReference, and the Bundles that carry them.

The input is a patient as the outbound query reads it (interchange/record.py): values the
caller's decisions gave in full, and WITHHELD where they did not. A withheld element is left
out and its resource's `meta.security` carries the REDACTED label; an element FHIR requires
(an Observation's code, an Encounter's class, a note's attachment) is sent as a
data-absent-reason of `masked` instead, which says the same without a value. A list the
caller may not read at all is left out whole, and the Bundle is labelled.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final

from interchange import systems
from interchange.record import LISTS, WITHHELD, Part

Resource = dict[str, Any]

_REDACTED: Final = {
    "system": systems.SECURITY_OBSERVATION,
    "code": systems.REDACTED,
    "display": "redacted",
}
_ABSENT: Final = {
    "extension": [{"url": systems.DATA_ABSENT_REASON, "valueCode": systems.MASKED_REASON}]
}
_UNKNOWN: Final = {"extension": [{"url": systems.DATA_ABSENT_REASON, "valueCode": "unknown"}]}

_ACT_CODE: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "OUTPATIENT": ("AMB", "ambulatory"),
        "INPATIENT": ("IMP", "inpatient encounter"),
        "EMERGENCY": ("EMER", "emergency"),
        "VIRTUAL": ("VR", "virtual"),
    }
)
_OBSERVATION_STATUS: Mapping[str, str] = MappingProxyType(
    {"CURRENT": "final", "AMENDED": "amended", "ENTERED_IN_ERROR": "entered-in-error"}
)
_DOCUMENT_STATUS: Mapping[str, str] = MappingProxyType(
    {"CURRENT": "current", "AMENDED": "current", "ENTERED_IN_ERROR": "entered-in-error"}
)


def fhir_id(public_id: str) -> str:
    """A public id as a FHIR id: FHIR ids hold letters, digits, `-` and `.` only, and public
    ids no `.`, so `_` is written as `.` (`pat_Xy-z` -> `pat.Xy-z`), reversibly."""
    return public_id.replace("_", ".")


def public_id(fhir: str) -> str:
    """The public id a FHIR id (or the public id itself) names."""
    return fhir.replace(".", "_")


class _Values:
    """One object's values; reading a withheld one answers None and marks the resource."""

    __slots__ = ("_values", "redacted")

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values
        self.redacted = False

    def __call__(self, key: str) -> Any:
        value = self._values.get(key)
        if value is WITHHELD:
            self.redacted = True
            return None
        return value

    def withheld(self, key: str) -> bool:
        return self._values.get(key) is WITHHELD

    def required(self, key: str, element: dict[str, Any] | None) -> dict[str, Any] | None:
        """`element` for a required element built from `key`; data-absent if `key` is withheld."""
        if self.withheld(key):
            self.redacted = True
            return dict(_ABSENT)
        return element

    def finish(self, resource: Resource) -> Resource:
        if self.redacted:
            resource["meta"] = {"security": [dict(_REDACTED)]}
        return {k: v for k, v in resource.items() if v not in (None, [], {})}


def _subject(patient_id: str) -> dict[str, str]:
    return {"reference": f"Patient/{fhir_id(patient_id)}"}


def patient(values: Mapping[str, Any]) -> Resource:
    v = _Values(values)
    identifiers = []
    if mrn := v("mrn"):
        identifiers.append({"type": _identifier_type(systems.MEDICAL_RECORD_NUMBER), "value": mrn})
    if ssn := v("ssn"):
        identifiers.append(
            {
                "type": _identifier_type(systems.SOCIAL_SECURITY_NUMBER),
                "system": systems.US_SSN,
                "value": ssn,
            }
        )
    given, family = v("givenName"), v("familyName")
    name = {"family": family, "given": [given] if given else None}
    telecom = [
        {"system": system, "value": value}
        for system, value in (("phone", v("phone")), ("email", v("email")))
        if value
    ]
    street, city, zip_code = v("street"), v("city"), v("zip")
    address = {"line": [street] if street else None, "city": city, "postalCode": zip_code}
    return v.finish(
        {
            "resourceType": "Patient",
            "id": fhir_id(values["id"]),
            "identifier": identifiers,
            "name": [_compact(name)] if _compact(name) else [],
            "gender": v("gender"),
            "birthDate": v("birthDate"),
            "telecom": telecom,
            "address": [_compact(address)] if _compact(address) else [],
        }
    )


def _identifier_type(code: str) -> dict[str, Any]:
    return {"coding": [{"system": systems.IDENTIFIER_TYPE, "code": code}]}


def _compact(element: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in element.items() if v}


def encounter(values: Mapping[str, Any], patient_id: str) -> Resource:
    v = _Values(values)
    kind = v("kind")
    known = _ACT_CODE.get(kind) if kind else None
    coding = {"system": systems.ACT_CODE, "code": known[0], "display": known[1]} if known else None
    start = v("startDate")
    return v.finish(
        {
            "resourceType": "Encounter",
            "id": fhir_id(values["id"]),
            # phigate records when an encounter started, not where it stands now.
            "status": "unknown",
            "class": v.required("kind", coding) or dict(_UNKNOWN),
            "subject": _subject(patient_id),
            "period": {"start": start} if start else None,
        }
    )


def _diagnosis_coding(code: str) -> dict[str, str]:
    """A SNOMED CT code as the import stored it (`SNOMED:<id>`), or an ICD-10-CM code."""
    if code.startswith(systems.SNOMED_PREFIX):
        return {"system": systems.SNOMED, "code": code.removeprefix(systems.SNOMED_PREFIX)}
    return {"system": systems.ICD10_CM, "code": code}


def condition(values: Mapping[str, Any], patient_id: str) -> Resource:
    v = _Values(values)
    code, description = v("code"), v("description")
    coding = [_diagnosis_coding(code)] if code else []
    if coding and description:
        coding[0]["display"] = description
    concept = _compact({"coding": coding, "text": description})
    verification = None
    if values["status"] == "ENTERED_IN_ERROR":
        verification = {
            "coding": [{"system": systems.CONDITION_VERIFICATION, "code": "entered-in-error"}]
        }
    return v.finish(
        {
            "resourceType": "Condition",
            "id": fhir_id(values["id"]),
            "verificationStatus": verification,
            "code": concept or None,
            "subject": _subject(patient_id),
            "recordedDate": v("recordedDate"),
        }
    )


def observation(values: Mapping[str, Any], patient_id: str) -> Resource:
    v = _Values(values)
    code, value, unit = v("code"), v("value"), v("unit")
    concept = {"coding": [{"system": systems.LOINC, "code": code}]} if code else dict(_UNKNOWN)
    return v.finish(
        {
            "resourceType": "Observation",
            "id": fhir_id(values["id"]),
            "status": _OBSERVATION_STATUS[values["status"]],
            "code": v.required("code", concept),
            "subject": _subject(patient_id),
            "effectiveDateTime": v("effectiveDate"),
            **_value(value, unit),
        }
    )


def _value(value: str | None, unit: str | None) -> dict[str, Any]:
    """A number as a Quantity (with its UCUM unit), anything else as text."""
    if value is None:
        return {}
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return {"valueString": value}
    quantity: dict[str, Any] = {"value": float(number) if number % 1 else int(number)}
    if unit:
        quantity.update(unit=unit, system=systems.UCUM, code=unit)
    return {"valueQuantity": quantity}


def document_reference(values: Mapping[str, Any], patient_id: str) -> Resource:
    v = _Values(values)
    text, authored = v("text"), v("authoredDate")
    attachment = {"contentType": "text/plain; charset=utf-8", "creation": authored}
    if text is not None:
        attachment["data"] = base64.b64encode(text.encode()).decode()
    if v.withheld("text"):
        attachment.update(_ABSENT)
    return v.finish(
        {
            "resourceType": "DocumentReference",
            "id": fhir_id(values["id"]),
            "status": _DOCUMENT_STATUS[values["status"]],
            "subject": _subject(patient_id),
            "content": [{"attachment": _compact(attachment)}],
        }
    )


_BUILDERS = MappingProxyType(
    {
        Part.ENCOUNTERS: encounter,
        Part.DIAGNOSES: condition,
        Part.OBSERVATIONS: observation,
        Part.NOTES: document_reference,
    }
)


def resources(record: Mapping[str, Any], parts: Iterable[Part]) -> tuple[list[Resource], bool]:
    """The resources of `parts` of a patient's record, in part order, and whether a whole list
    was withheld (the caller may read none of its entries, not even how many there are)."""
    wanted = frozenset(parts)
    found = [patient(record)] if Part.PATIENT in wanted else []
    withheld = False
    for part in LISTS:
        if part not in wanted:
            continue
        entries = record.get(part.value)
        if entries is WITHHELD:
            withheld = True
            continue
        build = _BUILDERS[part]
        found.extend(build(entry, record["id"]) for entry in entries or ())
    return found, withheld


def bundle(found: list[Resource], base: str, withheld: bool = False) -> Resource:
    """A searchset Bundle of `found` (their fullUrls under `base`), labelled REDACTED if a list
    was withheld or any resource in it is labelled."""
    redacted = withheld or any("meta" in resource for resource in found)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        **({"meta": {"security": [dict(_REDACTED)]}} if redacted else {}),
        "total": len(found),
        "entry": [
            {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in found
        ],
    }
