"""Auditors query the audit trail (identifiers, never PHI values); a patient sees who else
read their record (accounting of disclosures)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from models import Patient, User
from tests.helpers import gql
from tests.world import CHILD, CLINICAL, OTHER, OWN, World

EVENTS = """
query($filter: AuditFilter, $first: Int!, $after: String) {
  auditEvents(filter: $filter, first: $first, after: $after) {
    edges {
      cursor
      node {
        id at requestId event actor role client purpose ip patient decision
        fields { field path }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ACCESS_LOG = """
query($first: Int!, $after: String) {
  myAccessLog(first: $first, after: $after) {
    edges { node { at actor role username purpose fields } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
READ = """
query($id: ID!) {
  patient(id: $id) {
    givenName familyName ssn birthDate street zip diagnoses { code } notes { text }
  }
}
"""
PHI_VALUES = [
    *OWN.values(),
    *OTHER.values(),
    *CHILD.values(),
    *(v for values in CLINICAL.values() for v in values.values()),
]


def leaves(node: object) -> list[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(node, dict):
        return [*node, *(leaf for value in node.values() for leaf in leaves(value))]
    if isinstance(node, list):
        return [leaf for item in node for leaf in leaves(item)]
    return [node] if isinstance(node, str) else []


def leaked(document: object) -> list[str]:
    """The PHI values found in a JSON document. A short value (a lab result like 7.3) counts
    only as a whole string: it may well be part of a timestamp. A longer one counts anywhere."""
    values = set(leaves(document))
    return [v for v in PHI_VALUES if v in values or (len(v) >= 5 and any(v in x for x in values))]


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def read(client: httpx.AsyncClient, world: World, user: str, patient: str) -> str:
    response = await gql(client, READ, {"id": world.patients[patient]}, as_user=user)
    assert response.status_code == 200
    return response.headers["x-request-id"]


async def events(client: httpx.AsyncClient, first: int = 100, **where: object) -> list[dict]:
    body = (await gql(client, EVENTS, {"filter": where, "first": first}, as_user="auditor")).json()
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["auditEvents"]["edges"]]


async def actor_id(username: str) -> str:
    return (await User.get(username=username)).public_id


async def test_auditors_filter_the_trail(client: httpx.AsyncClient, world: World) -> None:
    doc_read = await read(client, world, "doc", "own")
    nurse_read = await read(client, world, "nurse", "own")
    desk_read = await read(client, world, "desk", "own")
    await client.post("/auth/login", json={"username": "doc", "password": "wrong"})

    everything = await events(client)
    assert [e["id"] for e in everything] == sorted(
        (e["id"] for e in everything), key=int, reverse=True
    )
    assert {e["event"] for e in everything} == {"PHI_ACCESS", "LOGIN_FAILED"}

    by_doc = await events(client, actor=await actor_id("doc"))
    assert [(e["event"], e["requestId"]) for e in by_doc][-1] == ("PHI_ACCESS", doc_read)
    assert {e["event"] for e in by_doc} == {"PHI_ACCESS", "LOGIN_FAILED"}

    own = await events(client, patient=world.patients["own"])
    assert {e["requestId"] for e in own} == {doc_read, nurse_read, desk_read}
    assert {e["decision"] for e in own} == {"ALLOW", "MASK", "DENY"}
    assert await events(client, patient=world.patients["other"]) == []

    masked = await events(client, decision="MASK", purpose="TREATMENT", event="PHI_ACCESS")
    assert [(e["requestId"], e["role"]) for e in masked] == [(nurse_read, "nurse")]
    assert {f["field"] for f in masked[0]["fields"]} == {"Patient.ssn", "Patient.birthDate"}
    assert {f["path"] for f in masked[0]["fields"]} == {"patient.ssn", "patient.birthDate"}

    denied = await events(client, event="PHI_ACCESS", decision="DENY")
    assert [e["requestId"] for e in denied] == [desk_read]
    # The front desk reads no diagnoses or notes: their lists are refused whole.
    assert {f["field"] for e in denied for f in e["fields"]} == {
        "Patient.diagnoses",
        "Patient.notes",
    }
    assert await events(client, event="LOGIN_FAILED", purpose="SECURITY") == [everything[0]]

    now = datetime.now(UTC)
    window = await events(
        client,
        **{
            "from": (now - timedelta(minutes=5)).isoformat(),
            "to": (now + timedelta(minutes=5)).isoformat(),
        },
    )
    assert len(window) == len(everything)
    assert await events(client, to=(now - timedelta(minutes=5)).isoformat()) == []


async def test_audit_pages_walk_every_record_once(client: httpx.AsyncClient, world: World) -> None:
    for _ in range(5):
        await read(client, world, "desk", "child")
    seen, after = [], None
    while True:
        variables = {"first": 2, "after": after}
        page = (await gql(client, EVENTS, variables, as_user="auditor")).json()["data"][
            "auditEvents"
        ]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["id"] for e in await events(client)]
    # Three decisions per read: ALLOW, MASK, and DENY (the lists of diagnoses and notes).
    assert len(seen) == len(set(seen)) == 15

    for variables in ({"first": 101}, {"first": 0}, {"first": 5, "after": "bm90LWFuLWlk"}):
        body = (await gql(client, EVENTS, variables, as_user="auditor")).json()
        assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("user", ["doc", "nurse", "desk", "billing", "alice", "rae", "admin"])
async def test_only_auditors_read_the_trail(
    client: httpx.AsyncClient, world: World, user: str
) -> None:
    await read(client, world, "doc", "own")
    body = (await gql(client, EVENTS, {"first": 10}, as_user=user)).json()
    assert body["data"] is None
    assert codes(body) == ["FORBIDDEN"]


async def test_no_phi_value_in_the_audit_trail(client: httpx.AsyncClient, world: World) -> None:
    for user in ("doc", "nurse", "desk", "billing", "alice", "parent"):
        for patient in ("own", "other", "child"):
            await read(client, world, user, patient)
    found = await events(client)
    assert '"PHI_ACCESS"' in json.dumps(found)
    assert leaked(found) == []


async def test_a_patient_sees_who_else_read_their_record(
    client: httpx.AsyncClient, world: World
) -> None:
    await read(client, world, "alice", "own")  # her own reads are not disclosures
    await read(client, world, "doc", "own")
    await read(client, world, "nurse", "own")
    await read(client, world, "desk", "other")  # someone else's record
    await read(client, world, "desk", "own")  # front desk: clinical fields denied, rest shown

    body = (await gql(client, ACCESS_LOG, {"first": 20}, as_user="alice")).json()
    assert "errors" not in body, body
    log = [edge["node"] for edge in body["data"]["myAccessLog"]["edges"]]
    # A request's full and masked fields are two entries.
    assert [(e["username"], e["role"], e["purpose"]) for e in log] == [
        ("desk", "front_desk", "OPERATIONS"),
        ("desk", "front_desk", "OPERATIONS"),
        ("nurse", "nurse", "TREATMENT"),
        ("nurse", "nurse", "TREATMENT"),
        ("doc", "physician", "TREATMENT"),
    ]
    assert log[-1]["actor"] == await actor_id("doc")
    assert sorted(log[-1]["fields"]) == sorted([
        "Patient.givenName", "Patient.familyName", "Patient.ssn", "Patient.birthDate",
        "Patient.street", "Patient.zip", "Diagnosis.code", "ClinicalNote.text",
    ])  # fmt: skip
    desk_fields = {field for entry in log[:2] for field in entry["fields"]}
    assert "Diagnosis.code" not in desk_fields  # denied to the front desk: not disclosed
    assert "Patient.ssn" in desk_fields  # masked is disclosed (in part)
    assert leaked(body) == []

    # Only her own record: the parent (a proxy, no record of their own) has nothing listed.
    parent = (await gql(client, ACCESS_LOG, {"first": 20}, as_user="parent")).json()
    assert parent["data"]["myAccessLog"]["edges"] == []
    for user in ("doc", "auditor", "admin"):
        other = (await gql(client, ACCESS_LOG, {"first": 20}, as_user=user)).json()
        assert codes(other) == ["FORBIDDEN"]


async def test_a_proxy_read_is_a_disclosure_without_a_username(
    client: httpx.AsyncClient, world: World
) -> None:
    """The child has no account of their own here; a proxy's read of a patient who has one is
    listed for that patient, with the proxy's role and id but not their login name."""
    child = await User.create(username="cosima", role="patient", password_hash="x")
    await Patient.filter(public_id=world.patients["child"]).update(user_id=child.id)
    await read(client, world, "parent", "child")
    body = (await gql(client, ACCESS_LOG, {"first": 20}, as_user="cosima")).json()
    log = [edge["node"] for edge in body["data"]["myAccessLog"]["edges"]]
    assert [(e["role"], e["username"], e["actor"]) for e in log] == [
        ("patient", None, await actor_id("parent"))
    ]
