"""Break-glass: a physician opens time-limited emergency access to a patient outside their care
team, stating why; reads under it are audited EMERGENCY; auditors review the grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from models import AuditEvent, BreakGlassGrant
from tests.helpers import gql
from tests.world import OTHER, OWN, World

OPEN = """
mutation($mrn: String!, $reason: String!, $minutes: Int) {
  openEmergencyAccess(mrn: $mrn, reason: $reason, minutes: $minutes) {
    grantId expiresAt patient { id givenName ssn }
  }
}
"""
CLOSE = "mutation($id: ID!) { closeEmergencyAccess(grantId: $id) }"
READ = "query($id: ID!) { patient(id: $id) { givenName familyName } }"
BOTH = """
query($own: ID!, $other: ID!) {
  own: patient(id: $own) { givenName }
  other: patient(id: $other) { givenName }
}
"""
REVIEW = """
query($open: Boolean) {
  breakGlassGrants(open: $open) {
    edges {
      node { id physician physicianUsername patient open openedAt expiresAt closedAt reason }
    }
  }
}
"""
REASON = "Unconscious in the emergency department, no care team reachable"


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def open_grant(client: httpx.AsyncClient, **variables: object) -> httpx.Response:
    return await gql(
        client, OPEN, {"mrn": OTHER["mrn"], "reason": REASON, **variables}, as_user="doc"
    )


async def purposes(request_id: str) -> dict[str | None, str]:
    rows = await AuditEvent.filter(request_id=request_id, event="PHI_ACCESS")
    return {row.patient: row.purpose for row in rows}


async def test_a_physician_opens_a_grant_and_reads_under_emergency(
    client: httpx.AsyncClient, world: World
) -> None:
    other = world.patients["other"]
    before = (await gql(client, READ, {"id": other}, as_user="doc")).json()
    assert codes(before) == ["NOT_FOUND"]

    response = await open_grant(client, minutes=30)
    body = response.json()
    assert "errors" not in body
    opened = body["data"]["openEmergencyAccess"]
    assert opened["patient"] == {"id": other, "givenName": OTHER["given_name"], "ssn": OTHER["ssn"]}
    expires = datetime.fromisoformat(opened["expiresAt"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)
    request_id = response.headers["x-request-id"]
    event = await AuditEvent.get(request_id=request_id, event="BREAK_GLASS_OPENED")
    assert (event.patient, event.role, event.purpose) == (other, "physician", "SECURITY")
    assert await purposes(request_id) == {other: "EMERGENCY"}
    # The reason is sealed at rest, like PHI, and never appears in the audit trail.
    grant = await BreakGlassGrant.get(public_id=opened["grantId"])
    assert REASON.encode() not in grant.reason.blob
    dumped = " ".join(str(v) for r in await AuditEvent.all() for v in r.__dict__.values())
    assert REASON not in dumped

    later = await gql(client, BOTH, {"own": world.patients["own"], "other": other}, as_user="doc")
    assert later.json()["data"] == {
        "own": {"givenName": OWN["given_name"]},
        "other": {"givenName": OTHER["given_name"]},
    }
    assert await purposes(later.headers["x-request-id"]) == {
        world.patients["own"]: "TREATMENT",
        other: "EMERGENCY",
    }


async def test_an_expired_or_closed_grant_opens_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    other = world.patients["other"]
    grant_id = (await open_grant(client)).json()["data"]["openEmergencyAccess"]["grantId"]
    await BreakGlassGrant.filter(public_id=grant_id).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert codes((await gql(client, READ, {"id": other}, as_user="doc")).json()) == ["NOT_FOUND"]
    closed = await gql(client, CLOSE, {"id": grant_id}, as_user="doc")
    assert closed.json()["data"] == {"closeEmergencyAccess": False}

    second = (await open_grant(client)).json()["data"]["openEmergencyAccess"]["grantId"]
    closed = await gql(client, CLOSE, {"id": second}, as_user="doc")
    assert closed.json()["data"] == {"closeEmergencyAccess": True}
    assert await AuditEvent.filter(event="BREAK_GLASS_CLOSED", patient=other).count() == 1
    assert codes((await gql(client, READ, {"id": other}, as_user="doc")).json()) == ["NOT_FOUND"]


@pytest.mark.parametrize("user", ["nurse", "desk", "billing", "alice", "rae", "auditor", "admin"])
async def test_only_physicians_may_break_the_glass(
    client: httpx.AsyncClient, world: World, user: str
) -> None:
    response = await gql(client, OPEN, {"mrn": OTHER["mrn"], "reason": REASON}, as_user=user)
    body = response.json()
    assert body["data"] is None
    assert codes(body) == ["FORBIDDEN"]
    assert OTHER["given_name"] not in response.text
    assert await BreakGlassGrant.all().count() == 0


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"reason": ""}, "BAD_USER_INPUT"),
        ({"reason": "   because     "}, "BAD_USER_INPUT"),
        ({"minutes": 0}, "BAD_USER_INPUT"),
        ({"minutes": 241}, "BAD_USER_INPUT"),
        ({"mrn": "MRN-999999"}, "NOT_FOUND"),
        ({"mrn": OWN["mrn"]}, "BAD_USER_INPUT"),  # in the doctor's care already
    ],
)
async def test_a_grant_needs_a_reason_a_sane_duration_and_a_patient_outside_care(
    client: httpx.AsyncClient, world: World, variables: dict[str, object], code: str
) -> None:
    body = (await open_grant(client, **variables)).json()
    assert codes(body) == [code]
    assert await BreakGlassGrant.all().count() == 0
    assert await AuditEvent.filter(event="BREAK_GLASS_OPENED").count() == 0


async def test_mutations_are_refused_over_get(client: httpx.AsyncClient, world: World) -> None:
    arguments = f'mrn: "{OTHER["mrn"]}", reason: "{REASON}"'
    query = f"mutation {{ openEmergencyAccess({arguments}) {{ grantId }} }}"
    response = await client.get("/graphql", params={"query": query}, headers={"x-test-as": "doc"})
    assert response.status_code == 405  # GraphQL over HTTP
    [error] = response.json()["errors"]
    assert error["extensions"]["reason"] == "mutation_requires_post"
    assert await BreakGlassGrant.all().count() == 0


async def test_auditors_review_open_and_past_grants(
    client: httpx.AsyncClient, world: World
) -> None:
    first = (await open_grant(client)).json()["data"]["openEmergencyAccess"]["grantId"]
    await gql(client, CLOSE, {"id": first}, as_user="doc")
    second = (await open_grant(client)).json()["data"]["openEmergencyAccess"]["grantId"]

    def grants(response: httpx.Response) -> list[dict[str, object]]:
        return [e["node"] for e in response.json()["data"]["breakGlassGrants"]["edges"]]

    every = grants(await gql(client, REVIEW, as_user="auditor"))
    assert [g["id"] for g in every] == [second, first]
    latest = every[0]
    assert (latest["physicianUsername"], latest["patient"], latest["open"]) == (
        "doc",
        world.patients["other"],
        True,
    )
    assert latest["physician"].startswith("usr_")
    assert latest["reason"] == REASON
    assert every[1]["closedAt"] is not None
    assert [
        g["id"] for g in grants(await gql(client, REVIEW, {"open": True}, as_user="auditor"))
    ] == [second]
    assert [
        g["id"] for g in grants(await gql(client, REVIEW, {"open": False}, as_user="auditor"))
    ] == [first]
    # Reading a reason is itself a PHI access on the record.
    read = await AuditEvent.filter(event="PHI_ACCESS", role="auditor").first()
    assert read is not None
    assert read.patient == world.patients["other"]
    assert {field for field, _ in read.accessed()} == {"BreakGlassGrant.reason"}

    for user in ("doc", "nurse", "desk", "alice", "admin"):
        assert codes((await gql(client, REVIEW, as_user=user)).json()) == ["FORBIDDEN"]
