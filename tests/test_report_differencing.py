"""Differencing attacks on reports, through HTTP (issue #18 item 9).

A researcher's report holds suppressed aggregates only: row-level pages would undo the
suppression (count a withheld cell from the rows) and join two reports on the rows' unique
de-identified attributes, whatever the pseudonyms. Whatever the caller varies across calls
(page sizes, cursors, aliases, the dimensions grouped by), neither attack succeeds; staff pages
show exactly the rows the caller reads identified, de-identified.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from typing import Any

import httpx
import pytest

from crypto.keyring import Keyring
from permissions.deidentify import report_date
from permissions.principal import Principal
from permissions.reports import (
    ReportCategories,
    ReportPages,
    ReportRows,
    ReportRule,
    report_rule,
    reports_only,
)
from permissions.roles import Decision, Purpose, Role
from permissions.scopes import Scope, scope_categories, sees_patients
from permissions.suppression import THRESHOLD
from schema.build import build_schema
from tests.helpers import gql
from tests.synthetic import organization_with_researcher, population, years_before
from tests.world import World

RESEARCHER = "differencing.rae"
ROWS = """
query($first: Int!, $after: String) {
  report {
    patients(first: $first, after: $after) {
      edges { age node { id birthDate zip diagnoses { code recordedDate } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""
ALIASED = "{ report { a: patients(first: 1) { totalCount } b: patients { totalCount } } }"
AGGREGATE = """
query($by: [ReportDimension!]!) {
  report { aggregate(by: $by) { cells { diagnosis ageBand zip3 year count } total } }
}
"""
DIMENSIONS = ("DIAGNOSIS", "AGE_BAND", "ZIP3", "YEAR")
CELL = {"DIAGNOSIS": "diagnosis", "AGE_BAND": "ageBand", "ZIP3": "zip3", "YEAR": "year"}
GROUPINGS = [by for n in range(1, len(DIMENSIONS) + 1) for by in combinations(DIMENSIONS, n)]

Row = dict[str, Any]
Key = tuple[str, ...]


async def registry(keyring: Keyring) -> None:
    """36 patients: 15 in ZIP 627 aged 35 with E11.9 (2024), 12 in ZIP 825 aged 45 with E11.9
    (2023), 3 aged 90+ in ZIP 059 (restricted: 000) with I10, and 6 in ZIP 303 aged 50 to 55
    with J45.909 (2022): each of those six is the only row of its birth year."""
    org = await organization_with_researcher("Differencing", RESEARCHER)
    today = report_date()
    await population(keyring, org, [
        (15, "62704", years_before(today, 35), [("E11.9", "2024-05-01")]),
        (12, "82501", years_before(today, 45), [("E11.9", "2023-02-01")]),
        (3, "05901", years_before(today, 95), [("I10", "2024-07-01")]),
        *((1, "30301", years_before(today, age), [("J45.909", "2022-03-01")])
          for age in range(50, 56)),
    ])  # fmt: skip


async def report_rows(client: httpx.AsyncClient, user: str, first: int) -> list[Row] | None:
    """Every row of one report, `first` a page, following its cursor; None if pages are
    refused (FORBIDDEN on `report.patients`, the rest of the report answered)."""
    rows: list[Row] = []
    after = None
    while True:
        body = (await gql(client, ROWS, {"first": first, "after": after}, as_user=user)).json()
        connection = body["data"]["report"]["patients"]
        if connection is None:
            refused = [(e["extensions"]["code"], e["path"]) for e in body["errors"]]
            assert refused == [("FORBIDDEN", ["report", "patients"])]
            return None
        rows += [{"age": edge["age"], **edge["node"]} for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            return rows
        after = connection["pageInfo"]["endCursor"]


PAGE_SIZES = (1, 7, 100)


def band(age: str | None) -> str:
    if age is None or age == "90+":
        return age or "unknown"
    low = int(age) // 10 * 10
    return f"{low}-{low + 9}"


def row_keys(row: Row, by: Sequence[str]) -> set[Key]:
    """The cells of a `by` table this row's patient counts in, from its de-identified values
    exactly as the aggregate groups them."""
    own = {"AGE_BAND": band(row["age"]), "ZIP3": row["zip"] or "unknown"}
    facts = [
        {**own, "DIAGNOSIS": dx["code"], "YEAR": dx["recordedDate"] or "unknown"}
        for dx in row["diagnoses"]
    ]
    return {tuple(fact[d] for d in by) for fact in facts}


async def table(client: httpx.AsyncClient, by: Sequence[str]) -> tuple[dict[Key, int], int | None]:
    body = (await gql(client, AGGREGATE, {"by": list(by)}, as_user=RESEARCHER)).json()
    assert "errors" not in body, body
    aggregate = body["data"]["report"]["aggregate"]
    shown = {tuple(cell[CELL[d]] for d in by): cell["count"] for cell in aggregate["cells"]}
    return shown, aggregate["total"]


async def test_rows_do_not_recover_a_suppressed_cell(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    await registry(keyring)
    tables = {by: (await table(client, by))[0] for by in GROUPINGS}
    # One report's rows, counted per cell of every grouping the aggregate offers: a count the
    # aggregate withholds is a suppressed cell recovered. Every page size is one more try.
    recovered = []
    for first in PAGE_SIZES:
        rows = await report_rows(client, RESEARCHER, first) or []
        for by, shown in tables.items():
            counted = Counter(key for row in rows for key in row_keys(row, by))
            recovered += [(first, by, key, n) for key, n in counted.items() if key not in shown]
    assert recovered == []
    aliased = (await gql(client, ALIASED, as_user=RESEARCHER)).json()
    assert aliased["data"] == {"report": {"a": None, "b": None}}


def signature(row: Row) -> str:
    """What a row shows besides its pseudonym."""
    return json.dumps([row["age"], row["birthDate"], row["zip"], row["diagnoses"]])


async def test_two_reports_do_not_link(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    await registry(keyring)

    async def unique(first: int) -> dict[str, str]:
        """One report's pseudonyms by the attribute combinations only one of its rows has."""
        rows = await report_rows(client, RESEARCHER, first) or []
        counts = Counter(signature(row) for row in rows)
        return {signature(row): row["id"] for row in rows if counts[signature(row)] == 1}

    links = {}
    for first in PAGE_SIZES:
        a, b = await unique(first), await unique(first)
        links |= {a[s]: b[s] for s in a.keys() & b.keys()}
    assert links == {}


async def test_aggregates_do_not_difference_across_groupings(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    """Every margin another grouping releases, minus the cells shown under it, is 0 or a sum of
    at least THRESHOLD patients: no subtraction across calls isolates a small cell. (Each of
    these patients has one diagnosis, so margins add up exactly.)"""
    await registry(keyring)
    tables = {by: await table(client, by) for by in GROUPINGS}
    differences = set()
    for by, (shown, total) in tables.items():
        for size in range(len(by)):
            for margin in combinations(range(len(by)), size):
                released = tables[tuple(by[i] for i in margin)][0] if margin else {(): total}
                for group, value in released.items():
                    if value is None:
                        continue
                    under = sum(n for k, n in shown.items() if tuple(k[i] for i in margin) == group)
                    differences.add(value - under)
    assert differences  # the attack had margins to subtract from
    assert {d for d in differences if d != 0 and d < THRESHOLD} == set()


IDENTIFIED = "{ patients(first: 100) { edges { node { birthDate zip } } } }"


async def test_staff_pages_hold_the_rows_read_identified(
    client: httpx.AsyncClient, world: World
) -> None:
    """Staff pages are offered because they show no row and no value the caller does not read
    identified: the same patients, each as its identified view de-identified."""
    for user in ("doc", "nurse", "desk", "billing"):
        identified = (await gql(client, IDENTIFIED, as_user=user)).json()["data"]["patients"]
        edges = identified["edges"]
        seen = Counter((e["node"]["birthDate"][:4], e["node"]["zip"][:3]) for e in edges)
        rows = await report_rows(client, user, 100)
        assert rows is not None, user
        assert Counter((row["birthDate"], row["zip"]) for row in rows) == seen, user
        assert seen, user


def principals() -> list[Principal]:
    """Every role signed in, and as an OAuth2 token of every combination of scopes."""
    names = sorted(scope.value for scope in Scope)
    scope_sets = [
        None,
        *(frozenset(c) for n in range(len(names) + 1) for c in combinations(names, n)),
    ]
    return [
        Principal("actor", role, Purpose.OPERATIONS, "request", scopes=scopes)
        for role in Role
        for scopes in scope_sets
    ]


def test_pages_are_offered_only_within_the_identified_view() -> None:
    """The policy behind the HTTP tests, for every principal: a caller offered pages reads
    their patients identified (row access applies) and reads identified every field a page
    shows it; everyone who may report but is not offered pages gets aggregates only."""
    plans = build_schema().plans
    offered = set()
    for principal in principals():
        rule = report_rule(principal)
        if rule is None or rule.pages is not ReportPages.OFFERED:
            continue
        offered.add((principal.role, principal.scopes))
        assert rule.rows is ReportRows.ROW_ACCESS
        assert sees_patients(principal.scopes)
        assert not reports_only(principal)
        limit = (
            None
            if principal.scopes is None
            else scope_categories(principal.scopes, person=principal.user_pk is not None)
        )
        for coordinate, plan in plans.items():
            if plan.decide_on(principal, limit, report=True) is not Decision.DENY:
                identified = plan.decide_on(principal, limit, report=False)
                assert identified is not Decision.DENY, (
                    principal.role,
                    principal.scopes,
                    coordinate,
                )
    staff = {Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.BILLING}
    assert {role for role, scopes in offered if scopes is None} == staff
    assert Role.RESEARCHER not in {role for role, _ in offered}


def test_a_rule_offering_pages_beyond_the_identified_view_is_refused() -> None:
    with pytest.raises(RuntimeError, match="beyond the identified view"):
        ReportRule(ReportRows.ORGANIZATION, ReportCategories.ALL, True, ReportPages.OFFERED)
