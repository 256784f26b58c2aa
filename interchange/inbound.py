"""FHIR R4 resources -> the values phigate writes: which element becomes which column.

Values come out as the source states them; the importer checks them with the API's own
checks (resolvers/validation.py), naming the FHIR element that held a bad one. What phigate
does not model is counted, never dropped silently: a resource type (Claim...), or a resource
that holds nothing phigate stores (an Observation with no value), is `not_modelled`; an element
of an imported resource phigate has no column for (a non-US address) is `left_out`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from interchange import systems
from interchange.bundles import Entry
from models import EncounterKind
from resolvers import validation
from resolvers.validation import Check


class Unusable(Exception):
    """An entry that cannot be imported as it is: the message names the element and why."""


class NotModelled(Exception):
    """A resource that holds nothing phigate stores; the message says what kind of one."""


@dataclass(slots=True)
class Record:
    """One phigate record from one source resource (or one part of it)."""

    kind: str
    """The phigate type written: Patient, Encounter, Diagnosis, Observation, ClinicalNote."""
    key: str
    """The source key (`Observation/abc`, `Observation/abc#component-1`)."""
    values: dict[str, tuple[str, str]] = field(default_factory=dict)
    """column -> (the FHIR element it came from, the value as stated)."""
    encounter: str | None = None
    """A reference to the encounter it belongs to."""
    left_out: list[str] = field(default_factory=list)

    def set(self, column: str, element: str, value: Any) -> None:
        if value is not None and value != "":
            self.values[column] = (element, str(value))


def _day(value: Any) -> str | None:
    """The calendar date of a FHIR date or dateTime (its first ten characters, as stated)."""
    return value[:10] if isinstance(value, str) else None


def _first(items: Any, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    for item in items or []:
        if isinstance(item, dict) and test(item):
            return item
    return None


def _typed(code: str) -> Callable[[dict[str, Any]], bool]:
    def test(identifier: dict[str, Any]) -> bool:
        codings = (identifier.get("type") or {}).get("coding") or []
        return any(
            c.get("system") == systems.IDENTIFIER_TYPE and c.get("code") == code for c in codings
        )

    return test


def patient(key: str, resource: Mapping[str, Any], mrn_system: str | None) -> Record:
    record = Record("Patient", key)
    identifiers = resource.get("identifier")
    mrn = _first(identifiers, _typed(systems.MEDICAL_RECORD_NUMBER))
    if mrn_system is not None:
        mrn = _first(identifiers, lambda i: i.get("system") == mrn_system)
    ssn = _first(identifiers, lambda i: i.get("system") == systems.US_SSN) or _first(
        identifiers, _typed(systems.SOCIAL_SECURITY_NUMBER)
    )
    if mrn is None or not mrn.get("value"):
        raise Unusable(
            "Patient.identifier: no medical record number (an identifier of type MR, or of "
            "the system given as --mrn-system)"
        )
    record.set("mrn", "Patient.identifier[MR].value", mrn["value"])
    if ssn is not None:
        record.set("ssn", "Patient.identifier[SS].value", ssn.get("value"))
    names = resource.get("name") or []
    name = _first(names, lambda n: n.get("use") == "official") or _first(names, lambda n: True)
    if name is not None:
        record.set("given_name", "Patient.name.given", " ".join(name.get("given") or []))
        record.set("family_name", "Patient.name.family", name.get("family"))
    record.set("birth_date", "Patient.birthDate", resource.get("birthDate"))
    telecom = resource.get("telecom")
    phone = _first(telecom, lambda t: t.get("system") == "phone")
    if phone is not None:
        record.set("phone", "Patient.telecom[phone].value", _tel(phone.get("value")))
    email = _first(telecom, lambda t: t.get("system") == "email")
    if email is not None:
        record.set("email", "Patient.telecom[email].value", email.get("value"))
    _address(record, resource.get("address") or [])
    record.set("gender", "Patient.gender", resource.get("gender"))
    return record


def _tel(value: Any) -> Any:
    return value.removeprefix("tel:") if isinstance(value, str) else value


def _address(record: Record, addresses: list[Any]) -> None:
    """The home (else first) address, when it is a US one: phigate's address and ZIP columns
    are US shaped (Safe Harbor's three-digit ZIP rule is a US rule)."""
    address = _first(addresses, lambda a: a.get("use") == "home") or _first(addresses, bool)
    if address is None:
        return
    if str(address.get("country", "US")).upper() not in systems.US_COUNTRIES:
        record.left_out.append("Patient.address (not a US address)")
        return
    record.set("street", "Patient.address.line", ", ".join(address.get("line") or []))
    record.set("city", "Patient.address.city", address.get("city"))
    record.set("zip", "Patient.address.postalCode", address.get("postalCode"))


_ENCOUNTER_KINDS: Mapping[str, EncounterKind] = {
    "AMB": EncounterKind.OUTPATIENT,
    "IMP": EncounterKind.INPATIENT,
    "ACUTE": EncounterKind.INPATIENT,
    "NONAC": EncounterKind.INPATIENT,
    "EMER": EncounterKind.EMERGENCY,
    "VR": EncounterKind.VIRTUAL,
}
"""v3 ActCode encounter classes -> phigate's kinds; another class (home health...) has none."""


def encounter(key: str, resource: Mapping[str, Any]) -> Record:
    record = Record("Encounter", key)
    kind = _ENCOUNTER_KINDS.get(str((resource.get("class") or {}).get("code")))
    record.set("kind", "Encounter.class", kind.value if kind else None)
    record.set(
        "start_date", "Encounter.period.start", _day((resource.get("period") or {}).get("start"))
    )
    return record


def condition(key: str, resource: Mapping[str, Any]) -> Record:
    record = Record("Diagnosis", key)
    code = resource.get("code") or {}
    codings = code.get("coding") or []
    icd = _first(codings, lambda c: c.get("system") == systems.ICD10_CM)
    snomed = _first(codings, lambda c: c.get("system") == systems.SNOMED)
    chosen = icd or snomed
    if chosen is None or not chosen.get("code"):
        raise NotModelled("Condition (not coded in ICD-10-CM or SNOMED CT)")
    prefix = "" if chosen is icd else systems.SNOMED_PREFIX
    record.set("code", "Condition.code.coding.code", prefix + str(chosen["code"]))
    record.set("description", "Condition.code.text", code.get("text") or chosen.get("display"))
    dated, day = "Condition.recordedDate", resource.get("recordedDate")
    if day is None:
        dated = "Condition.onset[x]"
        day = resource.get("onsetDateTime") or (resource.get("onsetPeriod") or {}).get("start")
    record.set("recorded_date", dated, _day(day))
    record.encounter = _reference(resource.get("encounter"))
    return record


def observations(key: str, resource: Mapping[str, Any]) -> list[Record]:
    """One record per value: the observation's own, or each component's (a blood pressure
    panel holds its systolic and diastolic values as components)."""
    parts: list[tuple[str, Mapping[str, Any]]] = [(key, resource)]
    components = resource.get("component") or []
    if not _has_value(resource) and components:
        parts = [(f"{key}#component-{i}", c) for i, c in enumerate(components)]
    day = _day(
        resource.get("effectiveDateTime")
        or (resource.get("effectivePeriod") or {}).get("start")
        or resource.get("effectiveInstant")
        or resource.get("issued")
    )
    records = []
    for part_key, part in parts:
        loinc = _first(
            (part.get("code") or {}).get("coding"), lambda c: c.get("system") == systems.LOINC
        )
        if loinc is None:
            raise NotModelled("Observation (no LOINC code)")
        if not _has_value(part):
            raise NotModelled("Observation (no value phigate stores)")
        record = Record("Observation", part_key)
        record.set("code", "Observation.code.coding.code", loinc.get("code"))
        value, unit = _value(part)
        record.set("value", "Observation.value[x]", value)
        record.set("unit", "Observation.valueQuantity.unit", unit)
        record.set("effective_date", "Observation.effective[x]", day)
        record.encounter = _reference(resource.get("encounter"))
        records.append(record)
    return records


_VALUES = ("valueQuantity", "valueString", "valueCodeableConcept", "valueBoolean", "valueInteger")


def _has_value(part: Mapping[str, Any]) -> bool:
    return any(name in part for name in _VALUES)


def _value(part: Mapping[str, Any]) -> tuple[Any, Any]:
    if "valueQuantity" in part:
        quantity = part["valueQuantity"]
        return quantity.get("value"), quantity.get("unit") or quantity.get("code")
    if "valueCodeableConcept" in part:
        concept = part["valueCodeableConcept"]
        coding = _first(concept.get("coding"), bool) or {}
        return concept.get("text") or coding.get("display") or coding.get("code"), None
    if "valueBoolean" in part:
        return str(part["valueBoolean"]).lower(), None
    return part.get("valueString", part.get("valueInteger")), None


def notes(key: str, resource: Mapping[str, Any]) -> list[Record]:
    """The text attachments of a DocumentReference (content) or a DiagnosticReport
    (presentedForm): one note each."""
    if resource["resourceType"] == "DocumentReference":
        element = "DocumentReference.content.attachment"
        attachments = [c.get("attachment") or {} for c in resource.get("content") or []]
        context = resource.get("context") or {}
        day = _day(resource.get("date") or (context.get("period") or {}).get("start"))
        encounters = context.get("encounter") or [None]
        encounter_ref = _reference(encounters[0])
    else:
        element = "DiagnosticReport.presentedForm"
        attachments = resource.get("presentedForm") or []
        day = _day(resource.get("issued") or resource.get("effectiveDateTime"))
        encounter_ref = _reference(resource.get("encounter"))
    texts = [(i, a) for i, a in enumerate(attachments) if a.get("data")]
    if not texts:
        raise NotModelled(f"{resource['resourceType']} (no attached text)")
    records = []
    for index, attachment in texts:
        record = Record("ClinicalNote", key if len(texts) == 1 else f"{key}#attachment-{index}")
        record.set("text", f"{element}.data", _text(element, attachment))
        record.set("authored_date", f"{element} date", day)
        record.encounter = encounter_ref
        records.append(record)
    return records


def _text(element: str, attachment: Mapping[str, Any]) -> str:
    content_type = str(attachment.get("contentType", "text/plain"))
    if not content_type.startswith("text/"):
        raise Unusable(f"{element}.contentType: only text attachments are imported")
    try:
        return base64.b64decode(attachment["data"], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unusable(f"{element}.data: not base64 UTF-8 text") from None


def _reference(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("reference"), str):
        return str(value["reference"])
    return None


def subject(entry: Entry) -> str:
    """The reference to the patient a clinical resource is about."""
    resource = entry.resource
    found = _reference(resource.get("subject") or resource.get("patient"))
    if found is None:
        raise Unusable(f"{entry.type}.subject: a reference to the patient is required")
    return found


def records(entry: Entry, key: str, mrn_system: str | None) -> list[Record]:
    """An entry's records; NotModelled for a resource phigate does not store."""
    resource = entry.resource
    match entry.type:
        case "Patient":
            return [patient(key, resource, mrn_system)]
        case "Encounter":
            return [encounter(key, resource)]
        case "Condition":
            return [condition(key, resource)]
        case "Observation":
            return observations(key, resource)
        case "DocumentReference" | "DiagnosticReport":
            return notes(key, resource)
    raise NotModelled(entry.type)


_SCTID = re.compile(r"[1-9]\d{5,17}")


def _verhoeff(number: str) -> bool:
    """Verhoeff's check: a SNOMED CT identifier's last digit checks the others."""
    multiply = (
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
        (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
        (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
        (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
        (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
    )  # fmt: skip
    permute = (
        (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
        (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
        (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
        (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
    )  # fmt: skip
    check = 0
    for position, digit in enumerate(int(c) for c in reversed(number)):
        check = multiply[check][permute[position % 8][digit]]
    return check == 0


def diagnosis_code(path: str, value: str) -> str:
    """An ICD-10-CM code as the API takes it, or `SNOMED:` and a SNOMED CT concept id (digits,
    Verhoeff check digit)."""
    if not value.startswith(systems.SNOMED_PREFIX):
        return validation.icd10cm(path, value)
    code = value.removeprefix(systems.SNOMED_PREFIX).strip()
    if _SCTID.fullmatch(code) is None or not _verhoeff(code):
        raise Unusable(f"{path}: must be a SNOMED CT concept id (with its check digit)")
    return systems.SNOMED_PREFIX + code


CODE_CHECKS: Mapping[str, Check] = {**validation.DIAGNOSIS, "code": diagnosis_code}
"""A diagnosis' checks on import: the API's, with the code checked per code system."""
