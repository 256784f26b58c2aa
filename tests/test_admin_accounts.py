"""Account administration over GraphQL, with real logins and TOTP: what each admin mutation
does to the target's sessions and logins, that nobody but an admin may call any of them, and
the OAuth2 client lifecycle from registration to revocation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from authlib.integrations.base_client import OAuthError
from starlette.applications import Starlette

from models import AuditEvent, Organization, User
from tests.helpers import ManualClock, gql
from tests.oauth_helpers import PAGE, TOKEN_URL, ask, partner
from tests.test_auth import Staff, login, query
from tests.world import World

ACCOUNT = "{ id active mfaEnrolled allowedNetworks }"


async def as_admin(http: httpx.AsyncClient, token: str, document: str, **variables: Any) -> Any:
    response = await http.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    return response.json()


async def account_id(username: str) -> str:
    return (await User.get(username=username)).public_id


@pytest.fixture
async def admin(
    session_client: httpx.AsyncClient, session_world: World, oathtool: str, clock: ManualClock
) -> str:
    """A signed-in admin's bearer token (admins enrol TOTP like all staff)."""
    enrolled = await Staff(session_client, oathtool, clock).enrol("admin")
    token: str = enrolled["token"]
    return token


async def test_reset_mfa_ends_sessions_and_the_next_login_enrols_again(
    session_client: httpx.AsyncClient, session_world: World, admin: str, oathtool: str,
    clock: ManualClock,
) -> None:  # fmt: skip
    doctor = Staff(session_client, oathtool, clock)
    token = (await doctor.enrol("doc"))["token"]
    assert (await query(session_client, token, session_world)).status_code == 200
    reset = await as_admin(
        session_client, admin, f"mutation($a: ID!) {{ resetAccountMfa(account: $a) {ACCOUNT} }}",
        a=await account_id("doc"),
    )  # fmt: skip
    assert reset["data"]["resetAccountMfa"]["mfaEnrolled"] is False
    assert (await query(session_client, token, session_world)).status_code == 401
    assert (await login(session_client, "doc")).json()["mfa"] == "enrol"
    assert await AuditEvent.filter(event="MFA_RESET").count() == 1


async def test_logout_account_ends_every_session_at_once(
    session_client: httpx.AsyncClient, session_world: World, admin: str, oathtool: str,
    clock: ManualClock,
) -> None:  # fmt: skip
    doctor = Staff(session_client, oathtool, clock)
    first = (await doctor.enrol("doc"))["token"]
    second = await doctor.login("doc")
    ended = await as_admin(
        session_client, admin, f"mutation($a: ID!) {{ logoutAccount(account: $a) {ACCOUNT} }}",
        a=await account_id("doc"),
    )  # fmt: skip
    assert ended["data"]["logoutAccount"]["active"] is True
    for token in (first, second):
        assert (await query(session_client, token, session_world)).status_code == 401
    assert await doctor.login("doc")  # logged out, not locked out


async def test_disable_refuses_login_and_enable_restores_it(
    session_client: httpx.AsyncClient, session_world: World, admin: str
) -> None:
    patient = await account_id("alice")
    token = (await login(session_client, "alice")).json()["token"]
    off = await as_admin(session_client, admin,
                         "mutation($a: ID!) { disableAccount(account: $a) { active } }",
                         a=patient)  # fmt: skip
    assert off["data"]["disableAccount"] == {"active": False}
    assert (await query(session_client, token, session_world)).status_code == 401
    refused = await login(session_client, "alice")
    assert refused.status_code == 401
    on = await as_admin(session_client, admin,
                        "mutation($a: ID!) { enableAccount(account: $a) { active } }",
                        a=patient)  # fmt: skip
    assert on["data"]["enableAccount"] == {"active": True}
    assert (await login(session_client, "alice")).status_code == 200


async def test_an_allowlist_set_by_an_admin_applies_to_the_next_request(
    session_client: httpx.AsyncClient, session_world: World, admin: str
) -> None:
    patient = await account_id("alice")
    token = (await login(session_client, "alice")).json()["token"]
    change = "mutation($a: ID!, $n: [String!]!) { setAccountNetworks(account: $a, networks: $n) "
    change += ACCOUNT + " }"
    narrowed = await as_admin(session_client, admin, change, a=patient, n=["10.9.0.0/16"])
    assert narrowed["data"]["setAccountNetworks"]["allowedNetworks"] == ["10.9.0.0/16"]
    refused = await query(session_client, token, session_world)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["reason"] == "network_not_allowed"
    bad = await as_admin(session_client, admin, change, a=patient, n=["10.9.0.0/99"])
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    cleared = await as_admin(session_client, admin, change, a=patient, n=[])
    assert cleared["data"]["setAccountNetworks"]["allowedNetworks"] == []
    assert (await query(session_client, token, session_world)).status_code == 200
    assert await AuditEvent.filter(event="NETWORKS_CHANGED").count() == 2


async def test_an_oauth_client_registered_by_an_admin_works_until_revoked(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World, admin: str
) -> None:
    organization = (await Organization.get(name="Test Hospital")).public_id
    created = await as_admin(
        session_client, admin,
        "mutation($o: ID!) { createOauthClient(registration: {name: \"Claims\", organization: $o,"
        ' scopes: ["phi.demographics"]}) { client { id role scopes } clientSecret } }',
        o=organization,
    )  # fmt: skip
    client = created["data"]["createOauthClient"]
    assert client["client"]["role"] == "BILLING"
    client_id, secret = client["client"]["id"], client["clientSecret"]
    async with partner(session_app, client_id, secret) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    access = token["access_token"]
    assert (await ask(session_client, access, PAGE)).status_code == 200
    listed = await as_admin(session_client, admin, "{ oauthClients { id revokedAt } }")
    assert {"id": client_id, "revokedAt": None} in listed["data"]["oauthClients"]

    revoke = "mutation($c: ID!) { revokeOauthClient(client: $c) }"
    assert (await as_admin(session_client, admin, revoke, c=client_id))["data"] == {
        "revokeOauthClient": True
    }
    assert (await ask(session_client, access, PAGE)).status_code == 401
    async with partner(session_app, client_id, secret) as oauth:
        with pytest.raises(OAuthError, match="invalid_client"):
            await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert await AuditEvent.filter(event__in=["CLIENT_CREATED", "CLIENT_REVOKED"]).count() == 2


ADMIN_ONLY = [
    "{ accounts { edges { node { id } } } }",
    '{ account(id: "usr_x") { id } }',
    "{ organizations { id } }",
    "{ oauthClients { id } }",
    'mutation { createAccount(username: "new.one", role: NURSE) { initialPassword } }',
    'mutation { setAccountRole(account: "%(doc)s", role: ADMIN) { role } }',
    'mutation { disableAccount(account: "%(doc)s") { active } }',
    'mutation { enableAccount(account: "%(doc)s") { active } }',
    'mutation { resetAccountMfa(account: "%(doc)s") { id } }',
    'mutation { logoutAccount(account: "%(doc)s") { id } }',
    'mutation { setAccountNetworks(account: "%(doc)s", networks: []) { id } }',
    'mutation { createOrganization(name: "Shadow Clinic") { id } }',
    'mutation { assignCareTeam(clinician: "%(doc)s", mrn: "MRN-000456") { patient } }',
    'mutation { revokeOauthClient(client: "cli_x") }',
]


@pytest.mark.parametrize("who", ["doc", "nurse", "desk", "billing", "alice", "rae", "auditor"])
async def test_nobody_but_an_admin_administers(
    client: httpx.AsyncClient, world: World, who: str
) -> None:
    before = await User.all().order_by("id").values_list("role", "is_active", "allowed_networks")
    for document in ADMIN_ONLY:
        response = await gql(client, document % {"doc": await account_id("doc")}, as_user=who)
        errors = response.json()["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"], (document, errors)
    after = await User.all().order_by("id").values_list("role", "is_active", "allowed_networks")
    assert after == before
    assert await Organization.filter(name="Shadow Clinic").count() == 0
