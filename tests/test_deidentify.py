"""Safe Harbor transforms per category, the 90-year and ZIP3 rules, pseudonyms, small-cell
suppression and the report policy, as pure functions (the HTTP tests cover them end to end)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from permissions.deidentify import (
    RESTRICTED_ZIP3,
    SAFE_HARBOR,
    age_band,
    deidentify_date,
    deidentify_zip,
    report_date,
    reported_age,
)
from permissions.pseudonyms import PREFIX, ReportScope
from permissions.roles import Category
from permissions.suppression import suppress

TODAY = date(2025, 6, 15)

# HHS 2012 de-identification guidance, section 3.3: 3-digit ZIP areas of 20,000 people or fewer
# (2000 Census). Written out here independently of the shipped data file.
HHS_RESTRICTED = {
    "036", "059", "063", "102", "203", "556", "692", "790", "821", "823", "830", "831", "878",
    "879", "884", "890", "893",
}  # fmt: skip

# Every category, one identifying input, and what a report shows of it.
EXPECTED = {
    Category.NAME: ("Quintanilla", None),
    Category.SSN: ("900-12-3456", None),
    Category.MRN: ("MRN-000123", None),
    Category.DATE: ("1980-05-17", "1980"),
    Category.GENDER: ("female", "female"),
    Category.ADDRESS: ("17 Lantern Row", None),
    Category.ZIP: ("62704", "627"),
    Category.PHONE: ("555-0142", None),
    Category.EMAIL: ("alicia.q@example.org", None),
    Category.DIAGNOSIS: ("E11.9", "E11.9"),
    Category.LAB: ("7.3", "7.3"),
    Category.NOTE: ("Reports polyuria. Start metformin 500mg.", None),
}


def test_every_category_has_its_safe_harbor_transform() -> None:
    assert set(EXPECTED) == set(Category)
    for category, (value, shown) in EXPECTED.items():
        assert SAFE_HARBOR[category](value) == shown, category


def test_restricted_zip3_list_is_the_hhs_list() -> None:
    assert RESTRICTED_ZIP3 == HHS_RESTRICTED
    for zip3 in HHS_RESTRICTED:
        assert deidentify_zip(f"{zip3}42") == "000"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("62704", "627"), ("62704-1234", "627"), (" 82501", "825"), ("03601", "000"),
     ("89301-0001", "000"), ("62", None), ("abcde", None), ("", None)],
)  # fmt: skip
def test_zip_keeps_three_digits_or_000(value: str, shown: str | None) -> None:
    assert deidentify_zip(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1980-05-17", "1980"),
        ("1936-01-01", "1936"),  # 89 this year: the year stays
        ("1935-12-31", None),  # 90 this year: indicative of an age over 89, withheld whole
        ("1901-01-01", None),
        ("1935", None),  # a bare year: 90 this year
        ("1936", "1936"),
        ("2030-01-01", "2030"),  # a future appointment
        ("2024-02-30", None),
        ("not a date", None),
    ],
)
def test_dates_keep_the_year_unless_90_years_back(value: str, shown: str | None) -> None:
    assert deidentify_date(value, TODAY) == shown


@pytest.mark.parametrize(
    ("birth", "age", "band"),
    [
        ("2025-06-15", "0", "0-9"),
        ("1980-12-31", "45", "40-49"),
        ("1980-01-01", "45", "40-49"),
        ("1981", "44", "40-49"),
        ("1936-01-01", "89", "80-89"),
        ("1935-12-31", "90+", "90+"),
        ("1900-01-01", "90+", "90+"),
        ("2026-01-01", None, None),
        ("garbage", None, None),
    ],
)
def test_ages_over_89_are_pooled(birth: str, age: str | None, band: str | None) -> None:
    assert reported_age(birth, TODAY) == age
    assert age_band(birth, TODAY) == band


def test_an_age_tells_no_more_than_the_birth_year() -> None:
    """Every day of a year, every birth date of one year reports the same age: a daily report
    cannot tell when the birthday passed (a masked birth date shows the year only)."""
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(365)]
    births = [f"1980-{month:02d}-{day:02d}" for month in range(1, 13) for day in (1, 15, 28)]
    assert {reported_age(birth, day) for birth in births for day in days} == {"45"}
    assert reported_age("2000-02-29", date(2025, 2, 28)) == "25"


def test_safe_harbor_dates_count_from_today() -> None:
    today = report_date()
    ninety = f"{today.year - 90:04d}-{today.month:02d}-{min(today.day, 28):02d}"
    assert SAFE_HARBOR[Category.DATE](ninety) is None
    assert SAFE_HARBOR[Category.DATE](f"{today.year - 80}-01-01") == str(today.year - 80)


def test_pseudonyms_hold_within_a_report_only() -> None:
    one, two = ReportScope(), ReportScope()
    assert one.pseudonym("pat_x") == one.pseudonym("pat_x")
    assert one.pseudonym("pat_x") != one.pseudonym("pat_y")
    assert one.pseudonym("pat_x") != two.pseudonym("pat_x")
    assert one.pseudonym("pat_x").startswith(PREFIX)
    assert "pat_x" not in one.pseudonym("pat_x")
    assert repr(one) == "ReportScope()"  # the key never shows in a log or traceback


def test_small_cells_are_withheld() -> None:
    counts = {("a",): 40, ("b",): 11, ("c",): 10}
    # c is small; alone it could be derived from the total, so b (the next smallest) goes too.
    assert suppress(counts, 1) == {("b",), ("c",)}


def test_withheld_cells_never_sum_below_the_threshold() -> None:
    counts = {("a",): 40, ("b",): 20, ("c",): 3, ("d",): 4}
    # c + d = 7 could be derived from the total: the next smallest cell joins them.
    assert suppress(counts, 1) == {("b",), ("c",), ("d",)}
    assert suppress({("a",): 40, ("b",): 12}, 1) == frozenset()


def test_complementary_suppression_covers_every_margin() -> None:
    counts = {
        ("627", "30-39"): 30, ("627", "40-49"): 5,
        ("825", "30-39"): 25, ("825", "40-49"): 40,
    }  # fmt: skip
    withheld = suppress(counts, 2)
    assert ("627", "40-49") in withheld
    for dimension in (0, 1):
        for value in {key[dimension] for key in counts}:
            group = [key for key in counts if key[dimension] == value]
            hidden = [counts[key] for key in group if key in withheld]
            assert not hidden or (len(hidden) > 1 and sum(hidden) >= 11), (dimension, value)
    hidden = [counts[key] for key in withheld]
    assert len(hidden) > 1
    assert sum(hidden) >= 11
