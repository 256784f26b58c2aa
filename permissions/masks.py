"""Partial views of a value for MASK decisions. A category without a mask cannot be masked:
the schema refuses to build with `mask:` on such a field, rather than leak or guess."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from permissions.roles import Category


def _last4_digits(value: str) -> str:
    return "".join(filter(str.isdigit, value))[-4:]


def _ssn(value: str) -> str:
    return f"***-**-{_last4_digits(value)}"


def _phone(value: str) -> str:
    return f"***-***-{_last4_digits(value)}"


def _year(value: str) -> str:
    return value[:4]


def _email(value: str) -> str:
    return "***@" + value.rpartition("@")[2]


def _mrn(value: str) -> str:
    return "****" + value[-4:]


def _initial(value: str) -> str:
    return value[:1] + "." if value else ""


def _zip3(value: str) -> str:
    return value[:3] + "**"


MASKS: Mapping[Category, Callable[[str], str]] = MappingProxyType(
    {
        Category.SSN: _ssn,
        Category.PHONE: _phone,
        Category.DATE: _year,
        Category.EMAIL: _email,
        Category.MRN: _mrn,
        Category.NAME: _initial,
        Category.ZIP: _zip3,
    }
)
