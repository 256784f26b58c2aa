"""Organizations are tenants: no role reaches another organization's patients, by list, id,
search, write, break-glass or care-team assignment, even where both use the same MRN."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from api.auth.passwords import hash_password
from crypto.keyring import Keyring
from models import BreakGlassGrant, Encounter, Organization, Patient, User
from permissions.roles import Role
from tests.helpers import gql
from tests.synthetic import member
from tests.world import OTHER, OWN, PASSWORD, World

LIST = """
query($mrn: String) { patients(first: 100, mrn: $mrn) { totalCount edges { node { id } } } }
"""
ONE = "query($id: ID!) { patient(id: $id) { id } node(id: $id) { id } }"
UPDATE = """
mutation($id: ID!, $input: PatientChanges!) {
  updatePatient(id: $id, version: 1, input: $input) { id version }
}
"""
OPEN = """
mutation($mrn: String!) {
  openEmergencyAccess(mrn: $mrn, reason: "Unconscious, no care team reachable") { patient { id } }
}
"""
ASSIGN = "mutation($d: ID!, $m: String!) { assignCareTeam(clinician: $d, mrn: $m) { patient } }"
ELSEWHERE_USERS = {"desk2": Role.FRONT_DESK, "billing2": Role.BILLING, "doc2": Role.PHYSICIAN}


@dataclass(frozen=True)
class Elsewhere:
    patient: str
    """Public id of the other organization's patient, who has `OWN`'s MRN and an encounter."""
    doc2: str


@pytest.fixture
async def elsewhere(keyring: Keyring, world: World) -> Elsewhere:
    org = await Organization.create(name="Elsewhere Clinic")
    users = {name: await member(org, name, role) for name, role in ELSEWHERE_USERS.items()}
    patient = Patient(organization=org)
    patient.seal_identity(keyring, **{**OTHER, "mrn": OWN["mrn"]})
    await patient.save()
    encounter = Encounter(patient=patient)
    encounter.seal(keyring, kind="OUTPATIENT", start_date="2024-01-05")
    await encounter.save()
    return Elsewhere(patient.public_id, users["doc2"].public_id)


def ids(body: dict) -> set[str]:
    return {edge["node"]["id"] for edge in body["data"]["patients"]["edges"]}


@pytest.mark.parametrize(
    ("user", "visible"),
    [
        ("desk", {"own", "other", "child"}),
        ("desk2", {"elsewhere"}),
        ("billing", {"own"}),
        ("billing2", {"elsewhere"}),
    ],
)
async def test_a_role_sees_only_its_organizations_patients(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere, user: str, visible: set[str]
) -> None:
    known = {**world.patients, "elsewhere": elsewhere.patient}
    body = (await gql(client, LIST, as_user=user)).json()
    assert ids(body) == {known[name] for name in visible}
    assert body["data"]["patients"]["totalCount"] == len(visible)


async def test_a_search_by_a_shared_mrn_finds_only_the_callers_patient(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere
) -> None:
    mine = (await gql(client, LIST, {"mrn": OWN["mrn"]}, as_user="desk")).json()
    theirs = (await gql(client, LIST, {"mrn": OWN["mrn"]}, as_user="desk2")).json()
    assert ids(mine) == {world.patients["own"]}
    assert ids(theirs) == {elsewhere.patient}


async def test_another_organizations_patient_is_not_found(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere
) -> None:
    for user, patient in (("desk2", world.patients["other"]), ("desk", elsewhere.patient)):
        body = (await gql(client, ONE, {"id": patient}, as_user=user)).json()
        assert body["data"] == {"patient": None, "node": None}


async def test_another_organizations_records_are_not_found(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere
) -> None:
    encounter = "query($id: ID!) { node(id: $id) { id } }"
    for user in ("billing", "billing2"):
        body = await gql(client, encounter, {"id": world.children["encounter"]}, as_user=user)
        found = body.json()["data"]["node"]
        assert found == ({"id": world.children["encounter"]} if user == "billing" else None)


async def test_another_organizations_patient_cannot_be_changed(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere
) -> None:
    target = world.patients["other"]
    body = (
        await gql(client, UPDATE, {"id": target, "input": {"city": "Ashford"}}, as_user="desk2")
    ).json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    assert (await Patient.get(public_id=target)).version == 1


async def test_break_glass_reaches_only_the_callers_organization(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere
) -> None:
    shared = (await gql(client, OPEN, {"mrn": OWN["mrn"]}, as_user="doc2")).json()
    assert shared["data"]["openEmergencyAccess"]["patient"]["id"] == elsewhere.patient
    theirs_only = (await gql(client, OPEN, {"mrn": OTHER["mrn"]}, as_user="doc2")).json()
    assert theirs_only["data"] is None
    assert [e["extensions"]["code"] for e in theirs_only["errors"]] == ["NOT_FOUND"]
    granted = await BreakGlassGrant.all().values_list("patient__public_id", flat=True)
    assert granted == [elsewhere.patient]


async def test_a_care_team_is_assigned_in_the_clinicians_organization(
    client: httpx.AsyncClient, world: World, elsewhere: Elsewhere
) -> None:
    body = await gql(client, ASSIGN, {"d": elsewhere.doc2, "m": OWN["mrn"]}, as_user="admin")
    assert body.json()["data"]["assignCareTeam"] == {"patient": elsewhere.patient}
    mine = (await gql(client, LIST, as_user="doc2")).json()
    assert ids(mine) == {elsewhere.patient}


async def test_an_account_in_no_organization_reaches_no_patient(
    client: httpx.AsyncClient, world: World
) -> None:
    password = hash_password(PASSWORD)
    for name, role in (("desk0", Role.FRONT_DESK), ("doc0", Role.PHYSICIAN)):
        await User.create(username=name, role=role, organization=None, password_hash=password)
    listed = (await gql(client, LIST, as_user="desk0")).json()
    assert listed["data"]["patients"] == {"totalCount": 0, "edges": []}
    opened = (await gql(client, OPEN, {"mrn": OTHER["mrn"]}, as_user="doc0")).json()
    assert [e["extensions"]["code"] for e in opened["errors"]] == ["NOT_FOUND"]
    assert await BreakGlassGrant.all().count() == 0


CREATE = """
mutation($u: String!, $r: Role!, $o: ID) {
  createAccount(username: $u, role: $r, organization: $o) { account { id } }
}
"""
SET_ROLE = "mutation($a: ID!, $r: Role!) { setAccountRole(account: $a, role: $r) { role } }"


async def test_an_account_that_works_with_patients_needs_an_organization(
    client: httpx.AsyncClient, world: World
) -> None:
    org = (await Organization.get(name="Test Hospital")).public_id
    for role in ("PHYSICIAN", "NURSE", "FRONT_DESK", "BILLING", "RESEARCHER"):
        refused = (await gql(client, CREATE, {"u": "new.one", "r": role}, as_user="admin")).json()
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["BAD_USER_INPUT"]
        assert "needs an organization" in refused["errors"][0]["message"]
    assert not await User.exists(username="new.one")
    placed = {"u": "desk.new", "r": "FRONT_DESK", "o": org}
    assert "errors" not in (await gql(client, CREATE, placed, as_user="admin")).json()
    auditor = {"u": "audit.new", "r": "AUDITOR"}
    made = (await gql(client, CREATE, auditor, as_user="admin")).json()
    account = made["data"]["createAccount"]["account"]["id"]
    moved = (await gql(client, SET_ROLE, {"a": account, "r": "BILLING"}, as_user="admin")).json()
    assert "needs an organization" in moved["errors"][0]["message"]
    assert (await User.get(public_id=account)).role is Role.AUDITOR
