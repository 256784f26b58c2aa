"""HIPAA Safe Harbor (45 CFR 164.514(b)(2)) transforms by category, for report mode.

Identifiers are removed; dates keep the year; ZIP keeps its first three digits; clinical data
(diagnosis codes, lab values) is not an identifier and stays.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from permissions.roles import Category


def _removed(_: str) -> None:
    return None


def _keep(value: str) -> str:
    return value


def _year(value: str) -> str:
    return value[:4]


def _zip3(value: str) -> str:
    return value[:3]


SAFE_HARBOR: Mapping[Category, Callable[[str], str | None]] = MappingProxyType(
    {
        Category.NAME: _removed,
        Category.SSN: _removed,
        Category.MRN: _removed,
        Category.DATE: _year,
        Category.ADDRESS: _removed,
        Category.ZIP: _zip3,
        Category.PHONE: _removed,
        Category.EMAIL: _removed,
        Category.DIAGNOSIS: _keep,
        Category.LAB: _keep,
        Category.NOTE: _removed,
    }
)
