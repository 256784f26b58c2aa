"""Row access: lists, counts, pages, lookups and node ids never reveal patients out of reach."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from models import CareTeamAssignment, ProxyGrant
from permissions.policy import PROXY_CATEGORIES
from permissions.roles import Category, ProxyScope
from permissions.scopes import SCOPE_CATEGORIES, Scope
from tests.helpers import gql
from tests.world import CHILD, OWN, World

PAGE = """
query($first: Int!, $after: String, $mrn: String) {
  patients(first: $first, after: $after, mrn: $mrn) {
    totalCount
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("doc", {"own"}),
        ("nurse", {"own"}),
        ("desk", {"own", "other", "child"}),
        ("billing", {"own"}),
        ("alice", {"own"}),
        ("parent", {"child"}),
        ("rae", set()),
        ("auditor", set()),
        ("admin", set()),
    ],
)
async def test_lists_and_counts_hold_only_visible_rows(
    client: httpx.AsyncClient, world: World, user: str, visible: set[str]
) -> None:
    body = (await gql(client, PAGE, {"first": 100}, as_user=user)).json()
    page = body["data"]["patients"]
    assert page["totalCount"] == len(visible)
    assert {e["node"]["id"] for e in page["edges"]} == {world.patients[p] for p in visible}


async def test_cursor_pagination_walks_every_row_once(
    client: httpx.AsyncClient, world: World
) -> None:
    first = (await gql(client, PAGE, {"first": 2}, as_user="desk")).json()["data"]["patients"]
    assert len(first["edges"]) == 2
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (await gql(client, PAGE, {"first": 2, "after": after}, as_user="desk")).json()
    rest = second["data"]["patients"]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][-1]["cursor"]}
    seen = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert sorted(seen) == sorted(world.patients.values())


@pytest.mark.parametrize("first", [0, -1, 101])
async def test_page_size_is_capped(client: httpx.AsyncClient, world: World, first: int) -> None:
    body = (await gql(client, PAGE, {"first": first}, as_user="desk")).json()
    assert body["data"] is None
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "100" in body["errors"][0]["message"]


async def test_bad_cursor_is_a_clear_error(client: httpx.AsyncClient, world: World) -> None:
    body = (await gql(client, PAGE, {"first": 5, "after": "%%%"}, as_user="desk")).json()
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_mrn_lookup_uses_the_blind_index(client: httpx.AsyncClient, world: World) -> None:
    # Normalisation: case and spacing do not matter.
    query = {"first": 10, "mrn": " " + OWN["mrn"].lower()}
    page = (await gql(client, PAGE, query, as_user="desk")).json()["data"]["patients"]
    assert [e["node"]["id"] for e in page["edges"]] == [world.patients["own"]]
    assert page["totalCount"] == 1
    # The clinician only finds it within their own rows.
    query = {"first": 10, "mrn": CHILD["mrn"]}
    page = (await gql(client, PAGE, query, as_user="doc")).json()["data"]["patients"]
    assert page["totalCount"] == 0


async def test_searching_by_a_field_you_cannot_read_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    body = (await gql(client, PAGE, {"first": 5, "mrn": OWN["mrn"]}, as_user="rae")).json()
    assert body["data"] is None
    assert codes(body) == ["FORBIDDEN"]


NODE = "query($id: ID!) { node(id: $id) { id ... on Encounter { kind startDate } } }"


async def test_node_resolves_children_within_row_access(
    client: httpx.AsyncClient, world: World
) -> None:
    encounter = world.children["encounter"]
    body = (await gql(client, NODE, {"id": encounter}, as_user="doc")).json()
    assert body == {
        "data": {"node": {"id": encounter, "kind": "EMERGENCY", "startDate": "2024-03-02"}}
    }


@pytest.mark.parametrize("target", ["hidden", "missing", "garbage", "oversized"])
async def test_hidden_and_missing_ids_look_the_same(
    client: httpx.AsyncClient, world: World, target: str
) -> None:
    ids = {
        "hidden": world.patients["other"],
        "missing": "pat_" + "A" * 22,
        "garbage": "not-an-id",
        # Found by schemathesis: longer than the column once gave an internal error.
        "oversized": "pat_" + "\u1e70\u033a" * 40,
    }
    response = await gql(client, NODE, {"id": ids[target]}, as_user="nurse")
    body = response.json()
    assert body["data"] == {"node": None}
    assert body["errors"][0]["extensions"].pop("request_id") == response.headers["x-request-id"]
    assert body["errors"] == [
        {
            "message": "Not found",
            "locations": [{"line": 1, "column": 19}],
            "path": ["node"],
            "extensions": {"code": "NOT_FOUND"},
        }
    ]


PROXY = "query($id: ID!) { patient(id: $id) { givenName birthDate ssn mrn diagnoses { code } } }"


async def test_proxy_sees_only_the_granted_scope(client: httpx.AsyncClient, world: World) -> None:
    body = (await gql(client, PROXY, {"id": world.patients["child"]}, as_user="parent")).json()
    assert body["data"]["patient"] == {
        "givenName": CHILD["given_name"],
        "birthDate": CHILD["birth_date"],
        "ssn": None,
        "mrn": None,
        "diagnoses": None,
    }
    # DEMOGRAPHICS holds no identifier, as the OAuth2 scope phi.demographics holds none, and
    # no diagnosis: not even how many there are.
    assert sorted((e["path"], e["extensions"]["code"]) for e in body["errors"]) == [
        (["patient", "diagnoses"], "FORBIDDEN"),
        (["patient", "mrn"], "FORBIDDEN"),
        (["patient", "ssn"], "FORBIDDEN"),
    ]


def test_proxy_scopes_and_oauth2_scopes_speak_one_vocabulary() -> None:
    """A DEMOGRAPHICS grant opens what `phi.demographics` opens; a CLINICAL grant opens what
    `phi.clinical` opens and the name, so a proxy knows whose record they are reading."""
    assert PROXY_CATEGORIES[ProxyScope.DEMOGRAPHICS] == SCOPE_CATEGORIES[Scope.PHI_DEMOGRAPHICS]
    clinical = SCOPE_CATEGORIES[Scope.PHI_CLINICAL] | {Category.NAME}
    assert PROXY_CATEGORIES[ProxyScope.CLINICAL] == clinical


async def test_revoked_proxy_grant_hides_the_patient(
    client: httpx.AsyncClient, world: World
) -> None:
    await ProxyGrant.all().update(revoked_at=datetime.now(UTC))
    body = (await gql(client, PROXY, {"id": world.patients["child"]}, as_user="parent")).json()
    assert codes(body) == ["NOT_FOUND"]


async def test_ended_care_team_assignment_hides_the_patient(
    client: httpx.AsyncClient, world: World
) -> None:
    await CareTeamAssignment.all().update(ended_at=datetime.now(UTC))
    body = (await gql(client, PROXY, {"id": world.patients["own"]}, as_user="doc")).json()
    assert codes(body) == ["NOT_FOUND"]
