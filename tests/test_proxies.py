"""Patients manage who acts for them; front desk records a grant; nobody grants on a record
they cannot load. Over HTTP, on both databases."""

from __future__ import annotations

import httpx

from tests.helpers import gql
from tests.world import OWN, World

READ = "query($p: ID!) { patient(id: $p) { familyName } }"
GRANT = 'mutation { grantProxyAccess(username: "parent", scope: DEMOGRAPHICS) { id active } }'


async def test_grant_list_revoke_and_access_log(client: httpx.AsyncClient, world: World) -> None:
    own = world.patients["own"]
    before = (await gql(client, READ, {"p": own}, as_user="parent")).json()
    assert before["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    granted = (await gql(client, GRANT, as_user="alice")).json()
    grant_id = granted["data"]["grantProxyAccess"]["id"]
    seen = (await gql(client, READ, {"p": own}, as_user="parent")).json()
    assert seen["data"]["patient"]["familyName"] == OWN["family_name"]
    log = (await gql(client, "{ myAccessLog { edges { node { role fields } } } }",
                     as_user="alice")).json()  # fmt: skip
    assert any(
        "Patient.familyName" in e["node"]["fields"] for e in log["data"]["myAccessLog"]["edges"]
    )
    listed = (await gql(client, "{ myProxyGrants { id granteeUsername scope } }",
                        as_user="alice")).json()  # fmt: skip
    assert listed["data"]["myProxyGrants"][0]["granteeUsername"] == "parent"
    revoke = "mutation($g: ID!) { revokeProxyAccess(grant: $g) }"
    assert (await gql(client, revoke, {"g": grant_id}, as_user="alice")).json()["data"] == {
        "revokeProxyAccess": True
    }
    after = (await gql(client, READ, {"p": own}, as_user="parent")).json()
    assert after["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_escalation_attempts_are_refused(client: httpx.AsyncClient, world: World) -> None:
    record = (
        'mutation($p: ID!) { recordProxyGrant(patient: $p, username: "parent", scope: FULL, '
        'reason: "asked in person at the desk") { id } }'
    )
    for user in ("alice", "parent", "doc", "admin"):
        refused = (await gql(client, record, {"p": world.patients["other"]}, as_user=user)).json()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user
    desk = (await gql(client, record, {"p": world.patients["other"]}, as_user="desk")).json()
    assert desk["data"]["recordProxyGrant"]["id"].startswith("pxy_")
    for user in ("doc", "desk", "alice"):
        admin_op = (await gql(client, "{ organizations { id } }", as_user=user)).json()
        assert admin_op["errors"][0]["extensions"]["code"] == "FORBIDDEN", user
    admin_read = (await gql(client, READ, {"p": world.patients["own"]}, as_user="admin")).json()
    assert admin_read["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    self_grant = 'mutation { grantProxyAccess(username: "alice", scope: FULL) { id } }'
    own = (await gql(client, self_grant, as_user="alice")).json()
    assert own["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    staff = 'mutation { grantProxyAccess(username: "doc", scope: FULL) { id } }'
    assert (await gql(client, staff, as_user="alice")).json()["errors"][0]["extensions"][
        "code"
    ] == "BAD_USER_INPUT"
