"""Normalisation before blind indexing, so `123-45-6789` and `123456789` find the same row."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from crypto.keyring import Keyring


class IndexKind(Enum):
    SSN = "ssn"
    MRN = "mrn"
    EMAIL = "email"
    FHIR_SOURCE = "fhir_source"


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _upper_compact(value: str) -> str:
    return "".join(value.split()).upper()


def _email(value: str) -> str:
    return value.strip().lower()


NORMALIZERS: dict[IndexKind, Callable[[str], str]] = {
    IndexKind.SSN: _digits,
    IndexKind.MRN: _upper_compact,
    IndexKind.EMAIL: _email,
    # A source key (`Observation/abc`) is compared exactly as the source wrote it.
    IndexKind.FHIR_SOURCE: str.strip,
}


def blind_index(keyring: Keyring, kind: IndexKind, value: str) -> bytes:
    return keyring.blind_index(kind.value, NORMALIZERS[kind](value))
