"""Reports: who may run them, researchers reach nothing else, pseudonyms per report, pages of
one report, and aggregates with small-cell suppression, all through HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from crypto.keyring import Keyring
from models import Diagnosis, EntryStatus
from permissions.deidentify import report_date
from tests.helpers import audited_fields, gql
from tests.synthetic import organization_with_researcher, population, years_before
from tests.world import World

FIELDS = "totalCount edges { node { id diagnoses { id } } } pageInfo { hasNextPage endCursor }"
PAGE = """
query($first: Int!, $after: String) {
  report { patients(first: $first, after: $after) { FIELDS } }
}
""".replace("FIELDS", FIELDS)
TWICE = (
    "{ report { a: patients(first: 10) { FIELDS } b: patients(first: 10) { FIELDS } } }".replace(
        "FIELDS", FIELDS
    )
)
AGGREGATE = """
query($by: [ReportDimension!]!) {
  report { aggregate(by: $by) { cells { diagnosis ageBand zip3 year count } suppressed total } }
}
"""


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


WHO = "{ report { aggregate(by: [ZIP3]) { suppressed } patients(first: 5) { totalCount } } }"


@pytest.mark.parametrize(
    ("user", "allowed"),
    [("doc", "pages"), ("nurse", "pages"), ("desk", "pages"), ("billing", "pages"),
     ("rae", "aggregates"), ("alice", None), ("parent", None), ("auditor", None),
     ("admin", None)],
)  # fmt: skip
async def test_who_may_run_reports(
    client: httpx.AsyncClient, world: World, user: str, allowed: str | None
) -> None:
    body = (await gql(client, WHO, as_user=user)).json()
    if allowed == "pages":
        assert body["data"]["report"]["patients"]["totalCount"] >= 1
        assert "errors" not in body
        # Staff reports stay within the role policy: the front desk reads no diagnoses, so
        # not their list either (its length would count them).
        page = (await gql(client, PAGE, {"first": 5}, as_user=user)).json()
        denied = {tuple(e["path"][-1:]) for e in page.get("errors", [])}
        assert denied == ({("diagnoses",)} if user == "desk" else set())
        assert set(error_codes(page)) <= {"FORBIDDEN"}
    elif allowed == "aggregates":
        # A researcher's report is its suppressed aggregates: pages would undo suppression.
        assert body["data"] == {"report": {"aggregate": {"suppressed": 2}, "patients": None}}
        assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
            ("FORBIDDEN", ["report", "patients"])
        ]
    else:
        assert body["data"] == {"report": None}
        assert error_codes(body) == ["FORBIDDEN"]


async def test_researchers_reach_nothing_but_reports(
    client: httpx.AsyncClient, world: World
) -> None:
    ids = [*world.patients.values(), *world.children.values()]
    for public_id in ids:
        body = (await gql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": public_id},
                          as_user="rae")).json()  # fmt: skip
        assert (body["data"], error_codes(body)) == ({"node": None}, ["NOT_FOUND"])
    body = (await gql(client, "query($id: ID!) { patient(id: $id) { id } }",
                      {"id": world.patients["own"]}, as_user="rae")).json()  # fmt: skip
    assert (body["data"], error_codes(body)) == ({"patient": None}, ["NOT_FOUND"])
    body = (await gql(client, "{ patients { totalCount edges { node { id } } } }",
                      as_user="rae")).json()  # fmt: skip
    assert body == {"data": {"patients": {"totalCount": 0, "edges": []}}}


async def test_pseudonyms_join_within_a_report_only(
    client: httpx.AsyncClient, world: World
) -> None:
    first = (await gql(client, TWICE, as_user="billing")).json()
    report = first["data"]["report"]
    assert report["a"]["edges"] == report["b"]["edges"]  # rows join within one report
    second = (await gql(client, TWICE, as_user="billing")).json()

    def ids(body: dict[str, Any]) -> set[str]:
        edges = body["data"]["report"]["a"]["edges"]
        nodes = [edge["node"] for edge in edges]
        return {n["id"] for n in nodes} | {dx["id"] for n in nodes for dx in n["diagnoses"]}

    assert len(ids(first)) == 2  # the one patient with an encounter, and its diagnosis
    assert ids(first).isdisjoint(ids(second))  # unlinkable across reports
    text = json.dumps(first) + json.dumps(second)
    assert not [i for i in [*world.patients.values(), *world.children.values()] if i in text]


async def test_pages_continue_one_report(client: httpx.AsyncClient, world: World) -> None:
    whole = "{ report { all: patients(first: 3) { FIELDS } page: patients(first: 2) { FIELDS } } }"
    body = (await gql(client, whole.replace("FIELDS", FIELDS), as_user="desk")).json()
    one = body["data"]["report"]["page"]
    assert one["pageInfo"]["hasNextPage"] is True
    cursor = one["pageInfo"]["endCursor"]
    page_two = (await gql(client, PAGE, {"first": 2, "after": cursor}, as_user="desk")).json()
    two = page_two["data"]["report"]["patients"]
    assert two["pageInfo"]["hasNextPage"] is False
    ids = [edge["node"]["id"] for edge in one["edges"] + two["edges"]]
    # Three distinct rows, in the order of the report the first page began: the cursor
    # carried its key and where it stood.
    assert ids == [edge["node"]["id"] for edge in body["data"]["report"]["all"]["edges"]]
    assert len(set(ids)) == 3

    # A cursor is bound to its principal, and anything else is refused, never a 500.
    for user, bad in [("billing", cursor), ("desk", "garbage"), ("desk", cursor[:-8] + "AAAAAAAA")]:
        response = await gql(client, PAGE, {"first": 2, "after": bad}, as_user=user)
        assert error_codes(response.json()) == ["BAD_USER_INPUT"]


async def registry(keyring: Keyring) -> None:
    """30 patients of one organization: 15 in ZIP 627 aged 30-39 with E11.9 (2024), 12 in ZIP
    825 aged 40-49 with E11.9 (2023), 3 aged 90+ in ZIP 059 (a restricted area) with I10."""
    org = await organization_with_researcher("Registry", "registry.rae")
    today = report_date()
    await population(keyring, org, [
        (15, "62704", years_before(today, 35), [("E11.9", "2024-05-01")]),
        (12, "82501", years_before(today, 45), [("E11.9", "2023-02-01")]),
        (3, "05901", years_before(today, 95), [("I10", "2024-07-01")]),
    ])  # fmt: skip


def cells(body: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int | None]:
    table = body["data"]["report"]["aggregate"]
    kept = [{k: v for k, v in cell.items() if v is not None} for cell in table["cells"]]
    return kept, table["suppressed"], table["total"]


async def test_aggregates_suppress_small_cells(
    client: httpx.AsyncClient, world: World, keyring: Keyring
) -> None:
    await registry(keyring)
    # ZIP3 000 (3 patients) is small; alone it would be the total minus the rest, so the next
    # smallest cell (825, 12) is withheld with it.
    response = await gql(client, AGGREGATE, {"by": ["ZIP3"]}, as_user="registry.rae")
    assert cells(response.json()) == ([{"zip3": "627", "count": 15}], 2, 30)
    audit = await audited_fields(response.headers["x-request-id"])
    assert len(audit) == 30
    assert {(field, path, decision) for _, field, path, decision in audit} == {
        ("Patient.zip", "report.aggregate", "DEIDENTIFY")
    }

    body = (await gql(client, AGGREGATE, {"by": ["AGE_BAND", "YEAR"]},
                      as_user="registry.rae")).json()  # fmt: skip
    # 90+ in 2024 (3) is small; the other cell of 2024 (30-39, 15) is withheld with it, which
    # settles the total as well.
    assert cells(body) == ([{"ageBand": "40-49", "year": "2023", "count": 12}], 2, 30)

    body = (await gql(client, AGGREGATE, {"by": ["DIAGNOSIS"]}, as_user="registry.rae")).json()
    assert cells(body) == ([], 2, 30)  # I10 (3) is small, so E11.9 (27) is withheld too

    # A diagnosis entered in error stays on record but is counted nowhere.
    hypertension = [d for d in await Diagnosis.all() if keyring.open(d.code) == "I10"]
    assert len(hypertension) == 3
    await Diagnosis.filter(id__in=[d.id for d in hypertension]).update(
        status=EntryStatus.ENTERED_IN_ERROR
    )
    body = (await gql(client, AGGREGATE, {"by": ["DIAGNOSIS"]}, as_user="registry.rae")).json()
    assert cells(body) == ([{"diagnosis": "E11.9", "count": 27}], 0, 27)

    # The world's own researcher counts its 3 patients: every cell and the total are withheld.
    body = (await gql(client, AGGREGATE, {"by": ["ZIP3", "AGE_BAND"]}, as_user="rae")).json()
    assert cells(body) == ([], 3, None)


async def test_aggregates_follow_the_report_policy(client: httpx.AsyncClient, world: World) -> None:
    body = (await gql(client, AGGREGATE, {"by": ["DIAGNOSIS"]}, as_user="desk")).json()
    assert (body["data"], error_codes(body)) == ({"report": None}, ["FORBIDDEN"])
    body = (await gql(client, AGGREGATE, {"by": ["ZIP3"]}, as_user="desk")).json()
    assert "errors" not in body
    for by in ([], ["ZIP3", "ZIP3"]):
        body = (await gql(client, AGGREGATE, {"by": by}, as_user="rae")).json()
        assert error_codes(body) == ["BAD_USER_INPUT"]
