"""The documented shapes of written values. A bad value is BAD_USER_INPUT naming its input
path and the reason; the message never holds the value (it is PHI)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from types import MappingProxyType

from models import EncounterKind
from models.vocabulary import GENDERS
from schema.errors import InvalidField
from schema.inputs import Provided

Check = Callable[[str, str], str]
"""(input path, value) -> the value as stored, or InvalidField."""

EARLIEST = date(1900, 1, 1)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Area 000 and 666, group 00 and serial 0000 are never issued; 9xx areas are accepted (ITINs
# and the synthetic data use them).
_SSN = re.compile(r"(?!000|666)\d{3}-(?!00)\d{2}-(?!0000)\d{4}")
_ZIP = re.compile(r"\d{5}(-\d{4})?")
# NANP (area and exchange codes start 2-9) with the usual separators, or E.164.
_PHONE = re.compile(r"(\+1[ -]?)?\(?[2-9]\d{2}\)?[ .-]?[2-9]\d{2}[ .-]?\d{4}|\+[1-9]\d{7,14}")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# Up to 64: EHR exports (Synthea among them) use UUIDs, 36 characters, as record numbers.
_MRN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,63}")
_ICD10CM = re.compile(r"[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?")
_LOINC = re.compile(r"(\d{1,5})-(\d)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(limit: int, *, lines: bool = False) -> Check:
    """Free text of 1 to `limit` characters, trimmed; no control characters (and no line
    breaks unless `lines`)."""

    def check(path: str, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise InvalidField(path, "must not be empty")
        if len(stripped) > limit:
            raise InvalidField(path, f"must be at most {limit} characters")
        if _CONTROL.search(stripped) or (not lines and ("\n" in stripped or "\r" in stripped)):
            raise InvalidField(path, "must not contain control characters")
        return stripped

    return check


def _shaped(pattern: re.Pattern[str], shape: str, limit: int = 64) -> Check:
    def check(path: str, value: str) -> str:
        stripped = value.strip()
        if len(stripped) > limit or pattern.fullmatch(stripped) is None:
            raise InvalidField(path, f"must be {shape}")
        return stripped

    return check


def past_date(path: str, value: str) -> str:
    """A real calendar date, YYYY-MM-DD, not before 1900 and not in the future (UTC)."""
    stripped = value.strip()
    try:
        day = date.fromisoformat(stripped) if _ISO_DATE.fullmatch(stripped) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidField(path, "must be a real date, YYYY-MM-DD")
    if day > datetime.now(UTC).date():
        raise InvalidField(path, "must not be in the future")
    if day < EARLIEST:
        raise InvalidField(path, "must not be before 1900-01-01")
    return stripped


def loinc(path: str, value: str) -> str:
    """A LOINC code, NNNNN-N, whose last digit is its mod-10 check digit."""
    stripped = value.strip()
    shape = _LOINC.fullmatch(stripped)
    if shape is None or _loinc_check(shape.group(1)) != int(shape.group(2)):
        raise InvalidField(path, "must be a LOINC code (NNNNN-N, with its check digit)")
    return stripped


def _loinc_check(number: str) -> int:
    total = 0
    for position, digit in enumerate(int(c) for c in reversed(number)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled // 10 + doubled % 10
    return (10 - total % 10) % 10


def one_of(choices: Collection[str]) -> Check:
    listed = ", ".join(choices)

    def check(path: str, value: str) -> str:
        stripped = value.strip()
        if stripped not in choices:
            raise InvalidField(path, f"must be one of {listed}")
        return stripped

    return check


ssn = _shaped(_SSN, "a Social Security number, NNN-NN-NNNN")
zip_code = _shaped(_ZIP, "a ZIP code, NNNNN or NNNNN-NNNN")
phone = _shaped(_PHONE, "a phone number: 10 digits (NANP) or +E.164")
email = _shaped(_EMAIL, "an email address", limit=254)
mrn = _shaped(_MRN, "a medical record number: 4 to 64 letters, digits or dashes")
icd10cm = _shaped(_ICD10CM, "an ICD-10-CM code (A00.0 shape, capital letters)")

PATIENT: Mapping[str, Check] = MappingProxyType(
    {
        "mrn": mrn,
        "given_name": text(100),
        "family_name": text(100),
        "birth_date": past_date,
        "gender": one_of(GENDERS),
        "ssn": ssn,
        "phone": phone,
        "email": email,
        "street": text(200),
        "city": text(100),
        "zip": zip_code,
    }
)
"""Every patient column's check, by column."""

REASON = text(500, lines=True)

DIAGNOSIS: Mapping[str, Check] = MappingProxyType(
    {"code": icd10cm, "description": text(500), "recorded_date": past_date}
)
OBSERVATION: Mapping[str, Check] = MappingProxyType(
    {"code": loinc, "value": text(64), "unit": text(32), "effective_date": past_date}
)
NOTE: Mapping[str, Check] = MappingProxyType(
    {"text": text(10_000, lines=True), "authored_date": past_date}
)
ENCOUNTER: Mapping[str, Check] = MappingProxyType(
    {"kind": one_of([kind.value for kind in EncounterKind]), "start_date": past_date}
)


def checked(
    values: Sequence[Provided], checks: Mapping[str, Check], required: Collection[str]
) -> dict[str, str | None]:
    """Every provided value checked, by column; an explicit null clears an optional column
    and is refused for a `required` one."""
    found: dict[str, str | None] = {}
    for v in values:
        path = f"input.{v.key}"
        if v.value is None:
            if v.column in required:
                raise InvalidField(path, "is required and cannot be cleared")
            found[v.column] = None
        else:
            found[v.column] = checks[v.column](path, v.value)
    return found
