"""HIPAA Safe Harbor (45 CFR 164.514(b)(2)) transforms by category, for reports.

Identifiers are removed; dates keep the year, except dates 90 or more years back, which are
withheld whole (a birth date that old is an age over 89); ZIP keeps its first three digits, `000`
for the sparsely populated areas HHS lists; clinical data (diagnosis codes, lab values) is not an
identifier and stays. A category not listed as kept or reduced is removed, so an identifier
category added later (fax, URL, IP, device...) is removed until someone decides otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from importlib.resources import files
from types import MappingProxyType

from permissions.roles import Category

OLDEST_REPORTED_AGE = 89
"""Safe Harbor pools every age above this into one category, `90+`."""
AGE_OVER_89 = "90+"
_ZIP3 = re.compile(r"\s*(\d{3})")
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


def _restricted_zip3() -> frozenset[str]:
    text = files("permissions").joinpath("data/restricted_zip3.txt").read_text()
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


RESTRICTED_ZIP3 = _restricted_zip3()
"""Three-digit ZIP areas of 20,000 people or fewer (HHS, 2012; see the data file's header)."""


def report_date() -> date:
    """The date whose year ages are counted to and the 90-year horizon is measured from."""
    return datetime.now(UTC).date()


def _earliest(value: str) -> date | None:
    """The earliest day a full or partial ISO date can mean; None if it is not one."""
    match = _DATE.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day = match.groups()
    try:
        return date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def age_on(value: str, today: date) -> int | None:
    """The age reached in `today`'s year: from the birth year alone, so it says no more than a
    de-identified (or masked) birth date does; a daily report would otherwise tell whether the
    birthday has passed, and so pin the date. At most a year over the age in whole years, so
    never under-reported across the 90+ threshold."""
    born = _earliest(value)
    if born is None:
        return None
    return today.year - born.year


def reported_age(value: str, today: date) -> str | None:
    age = age_on(value, today)
    if age is None or age < 0:
        return None
    return AGE_OVER_89 if age > OLDEST_REPORTED_AGE else str(age)


def age_band(value: str, today: date) -> str | None:
    """Ten-year bands, `0-9` to `80-89`, then `90+`."""
    age = age_on(value, today)
    if age is None or age < 0:
        return None
    if age > OLDEST_REPORTED_AGE:
        return AGE_OVER_89
    low = age - age % 10
    return f"{low}-{low + 9}"


def deidentify_date(value: str, today: date) -> str | None:
    """The year; None for a date 90 or more years before `today`, as that is indicative of an
    age over 89 (Safe Harbor withholds the year too), or for anything that is not a date."""
    earliest = _earliest(value)
    if earliest is None:
        return None
    age = age_on(value, today)
    if age is None or age > OLDEST_REPORTED_AGE:
        return None
    return f"{earliest.year:04d}"


def deidentify_zip(value: str) -> str | None:
    match = _ZIP3.match(value)
    if match is None:
        return None
    zip3 = match.group(1)
    return "000" if zip3 in RESTRICTED_ZIP3 else zip3


def _removed(_: str) -> None:
    return None


def _keep(value: str) -> str:
    return value


def _date_today(value: str) -> str | None:
    return deidentify_date(value, report_date())


_SHOWN: Mapping[Category, Callable[[str], str | None]] = {
    Category.DIAGNOSIS: _keep,
    Category.LAB: _keep,
    Category.GENDER: _keep,
    Category.DATE: _date_today,
    Category.ZIP: deidentify_zip,
}

SAFE_HARBOR: Mapping[Category, Callable[[str], str | None]] = MappingProxyType(
    {category: _SHOWN.get(category, _removed) for category in Category}
)
