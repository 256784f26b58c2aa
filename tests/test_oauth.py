"""Partner access through OAuth2, driven by authlib's own client over HTTP against the real app,
with real keys, a real database and a clock the test controls."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey
from starlette.applications import Starlette

from api.keys import key_provider
from api.oauth.clients import ClientError, Created, Grant, revoke_client
from api.oauth.signing import SigningKeys
from api.settings import Settings
from audit.buffer import PHI_ACCESS
from models import AccessToken, AuditEvent, ClientAuthMethod, OAuthClient
from permissions.roles import Role
from tests.helpers import ManualClock
from tests.oauth_helpers import (
    AUTHORIZE_URL,
    BASE,
    INTROSPECT_URL,
    PAGE,
    PATIENT,
    REDIRECT,
    REVOKE_URL,
    TOKEN_URL,
    ask,
    forbidden_paths,
    partner,
    register,
)
from tests.world import OWN, PASSWORD, World


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, oauth_issuer=BASE)


async def events(*names: str) -> list[tuple[str, str, str | None]]:
    rows = await AuditEvent.filter(event__in=names).order_by("id")
    return [(row.event, row.actor, row.client) for row in rows]


async def client_token(app: Starlette, created: Created) -> str:
    """An access token for a client registered with a secret, by client_credentials."""
    assert created.secret is not None
    async with partner(app, created.client.public_id, created.secret) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    access: str = token["access_token"]
    return access


# --- client credentials -------------------------------------------------------------------


async def test_client_credentials_sees_its_organization_within_its_scopes(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    created = await register(clock, "patient.read phi.demographics")
    assert created.secret is not None
    async with partner(session_app, created.client.public_id, created.secret) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        assert token["scope"] == "patient.read phi.demographics"
        assert "refresh_token" not in token
        # authlib's client sends the token itself on its own requests.
        body = (await oauth.post("/graphql", json={"query": PAGE, "variables": {}})).json()
    assert body == {"data": {"patients": {"totalCount": 3}}}
    response = await ask(session_client, token["access_token"], PATIENT,
                         id=session_world.patients["own"])  # fmt: skip
    body = response.json()
    patient = body["data"]["patient"]
    # billing may read SSN, MRN and diagnoses, but no scope names them: denied.
    assert patient["givenName"] == OWN["given_name"]
    assert patient["birthDate"] == OWN["birth_date"]
    assert (patient["ssn"], patient["mrn"]) == (None, None)
    assert forbidden_paths(body) == {"patient.ssn", "patient.mrn", "patient.diagnoses"}
    client_id = created.client.public_id
    assert await events("CLIENT_CREATED", "TOKEN_GRANTED") == [
        ("CLIENT_CREATED", client_id, client_id),
        ("TOKEN_GRANTED", client_id, client_id),
    ]
    access = await AuditEvent.filter(event=PHI_ACCESS, patient=session_world.patients["own"])
    assert {(row.actor, row.client, row.role) for row in access} == {
        (client_id, client_id, "billing")
    }


async def test_scopes_never_widen_the_role_policy(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    created = await register(clock, "patient.read phi.clinical phi.identifiers",
                             role=Role.FRONT_DESK)  # fmt: skip
    token = await client_token(session_app, created)
    body = (await ask(session_client, token, PATIENT, id=session_world.patients["own"])).json()
    patient = body["data"]["patient"]
    assert patient["ssn"] == "***-**-3456"  # front desk: masked, whatever the scope
    assert patient["mrn"] == OWN["mrn"]
    # front desk may not read diagnoses; NAME is outside these scopes.
    assert forbidden_paths(body) == {"patient.givenName", "patient.diagnoses"}


async def test_other_organizations_and_missing_patient_read_see_no_patients(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    elsewhere = await register(clock, "patient.read phi.demographics", organization="Elsewhere")
    no_rows = await register(clock, "phi.demographics phi.identifiers reports.read")
    for created in (elsewhere, no_rows):
        token = await client_token(session_app, created)
        page = (await ask(session_client, token, PAGE)).json()
        assert page == {"data": {"patients": {"totalCount": 0}}}
        body = (await ask(session_client, token, PATIENT, id=session_world.patients["own"])).json()
        assert body["data"] == {"patient": None}
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_mrn_search_needs_a_scope_that_reads_mrn(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    narrow = await register(clock, "patient.read phi.demographics")
    wide = await register(clock, "patient.read phi.identifiers")
    results = []
    for created in (narrow, wide):
        token = await client_token(session_app, created)
        results.append((await ask(session_client, token, PAGE, mrn=OWN["mrn"])).json())
    assert results[0]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert results[1] == {"data": {"patients": {"totalCount": 1}}}


async def raw_token(
    http: httpx.AsyncClient, data: dict[str, str], auth: tuple[str, str] | None = None
) -> httpx.Response:
    """A token request as any HTTP client would send it, for requests authlib would not make."""
    return await http.post("/oauth/token", data=data, auth=auth)


async def test_token_requests_that_fail_are_refused_and_audited(
    session_client: httpx.AsyncClient, session_world: World, clock: ManualClock
) -> None:
    created = await register(clock, "patient.read")
    client_id, secret = created.client.public_id, created.secret or ""
    cc = {"grant_type": "client_credentials"}
    wrong = await raw_token(session_client, cc, (client_id, "not-the-secret"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    too_wide = await raw_token(session_client, {**cc, "scope": "phi.clinical"}, (client_id, secret))
    assert too_wide.json()["error"] == "invalid_scope"
    code = {"grant_type": "authorization_code", "code": "x"}
    assert (await raw_token(session_client, code, (client_id, secret))).json()["error"] == (
        "unauthorized_client"
    )
    # Registered for client_secret_basic: the same secret in the body is not accepted.
    posted = await raw_token(
        session_client, {**cc, "client_id": client_id, "client_secret": secret}
    )
    assert posted.json()["error"] == "invalid_client"
    repeated = await session_client.post(
        "/oauth/token", content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"}, auth=(client_id, secret),
    )  # fmt: skip
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")
    as_json = await session_client.post("/oauth/token", json=cc, auth=(client_id, secret))
    assert as_json.status_code == 400
    refused = await events("TOKEN_REFUSED")
    assert refused == [("TOKEN_REFUSED", client_id, client_id)] * 4
    for row in await AuditEvent.all():
        assert secret not in str(row.__dict__)


async def test_basic_credentials_that_are_not_utf8_are_a_bad_request(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    undecodable = base64.b64encode(b"\xff\xfe:\xfa").decode()
    for endpoint in ("/oauth/token", "/oauth/introspect", "/oauth/revoke"):
        response = await session_client.post(
            endpoint, data={"grant_type": "client_credentials", "token": "x"},
            headers={"authorization": f"Basic {undecodable}"},
        )  # fmt: skip
        assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_client_secret_post_client(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    created = await register(clock, "patient.read", auth_method=ClientAuthMethod.SECRET_POST)
    async with partner(session_app, created.client.public_id, created.secret,
                       token_endpoint_auth_method="client_secret_post") as oauth:  # fmt: skip
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    page = (await ask(session_client, token["access_token"], PAGE)).json()
    assert page == {"data": {"patients": {"totalCount": 3}}}


# --- private_key_jwt ------------------------------------------------------------------------


async def test_private_key_jwt_client(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    private = ECKey.generate_key("P-256")
    created = await register(
        clock, "patient.read phi.demographics", auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        public_jwk=dict(private.as_dict(private=False)),
    )  # fmt: skip
    assert created.secret is None
    stored = await OAuthClient.get(id=created.client.id)
    assert stored.secret_hash is None
    assert "d" not in json.loads(stored.public_jwk or "{}")
    client_id = created.client.public_id

    def jwt_partner(**claims: Any) -> Any:
        oauth = partner(session_app, client_id, private,
                        token_endpoint_auth_method="private_key_jwt")  # fmt: skip
        oauth.register_client_auth_method(
            PrivateKeyJWT(TOKEN_URL, alg="ES256", claims=claims or None)
        )
        return oauth

    async with jwt_partner() as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    page = (await ask(session_client, token["access_token"], PAGE)).json()
    assert page == {"data": {"patients": {"totalCount": 3}}}
    async with jwt_partner(jti=generate_token(16)) as oauth:
        await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
        with pytest.raises(OAuthError, match="invalid_client"):  # the same assertion again
            await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    async with jwt_partner(aud=f"{BASE}/graphql") as oauth:
        with pytest.raises(OAuthError, match="invalid_client"):
            await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    stranger = ECKey.generate_key("P-256")
    async with partner(session_app, client_id, stranger,
                       token_endpoint_auth_method="private_key_jwt") as oauth:  # fmt: skip
        oauth.register_client_auth_method(PrivateKeyJWT(TOKEN_URL, alg="ES256"))
        with pytest.raises(OAuthError, match="invalid_client"):
            await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
    assert [e for e, _, _ in await events("TOKEN_GRANTED", "TOKEN_REFUSED")] == [
        "TOKEN_GRANTED", "TOKEN_GRANTED", "TOKEN_REFUSED", "TOKEN_REFUSED", "TOKEN_REFUSED",
    ]  # fmt: skip


# --- introspection and revocation -----------------------------------------------------------


async def test_introspection_and_revocation(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    created = await register(clock, "patient.read phi.demographics")
    other = await register(clock, "patient.read")
    client_id = created.client.public_id
    async with partner(session_app, client_id, created.secret) as oauth:
        token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
        access = token["access_token"]
        info = (await oauth.introspect_token(INTROSPECT_URL, token=access)).json()
        assert info["active"] is True
        assert (info["client_id"], info["sub"]) == (client_id, client_id)
        assert info["scope"] == "patient.read phi.demographics"
        assert (info["iss"], info["aud"], info["token_type"]) == (
            BASE, f"{BASE}/graphql", "access_token",
        )  # fmt: skip
        async with partner(session_app, other.client.public_id, other.secret) as nosy:
            # Another client may not learn anything about this token.
            assert (await nosy.introspect_token(INTROSPECT_URL, token=access)).json() == {
                "active": False
            }
        assert (await ask(session_client, access, PAGE)).status_code == 200
        revoked = await oauth.revoke_token(REVOKE_URL, token=access)
        assert revoked.status_code == 200
        info = (await oauth.introspect_token(INTROSPECT_URL, token=access)).json()
        assert info == {"active": False}
    refused = await ask(session_client, access, PAGE)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    assert [e for e, _, _ in await events("TOKEN_INTROSPECTED", "TOKEN_REVOKED")] == [
        "TOKEN_INTROSPECTED", "TOKEN_INTROSPECTED", "TOKEN_REVOKED", "TOKEN_INTROSPECTED",
    ]  # fmt: skip


async def test_revocation_takes_the_secret_either_way_as_stock_clients_send_it(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    """authlib's `revoke_token` sends Basic credentials unless told otherwise, whatever the
    client uses at the token endpoint: a client_secret_post client's revocation must not be
    refused while the partner believes the token dead. The token endpoint stays strict."""
    posting = await register(clock, "patient.read", auth_method=ClientAuthMethod.SECRET_POST)
    basic = await register(clock, "patient.read")
    for created, method in ((posting, "client_secret_post"), (basic, "client_secret_basic")):
        async with partner(session_app, created.client.public_id, created.secret,
                           token_endpoint_auth_method=method) as oauth:  # fmt: skip
            token = await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
            access = token["access_token"]
            other = "client_secret_basic" if method == "client_secret_post" else method
            async with partner(session_app, created.client.public_id, created.secret,
                               token_endpoint_auth_method=other,
                               revocation_endpoint_auth_method=other) as stock:  # fmt: skip
                info = await stock.introspect_token(INTROSPECT_URL, token=access)
                assert info.json()["active"] is True
                revoked = await stock.revoke_token(REVOKE_URL, token=access)
            assert revoked.status_code == 200
            dead = await ask(session_client, access, PAGE)
            assert dead.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    wrong_way = await raw_token(
        session_client, {"grant_type": "client_credentials"},
        (posting.client.public_id, posting.secret or ""),
    )  # fmt: skip
    assert wrong_way.json()["error"] == "invalid_client"


async def test_a_private_key_jwt_client_revokes_only_with_its_key(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    private = ECKey.generate_key("P-256")
    created = await register(
        clock, "patient.read", auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        public_jwk=dict(private.as_dict(private=False)),
    )  # fmt: skip
    client_id = created.client.public_id
    async with partner(session_app, client_id, private,
                       token_endpoint_auth_method="private_key_jwt") as oauth:  # fmt: skip
        oauth.register_client_auth_method(PrivateKeyJWT(TOKEN_URL, alg="ES256"))
        access = (await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials"))[
            "access_token"
        ]
        # No secret, so a stock client sends only its client_id: refused, not a silent 200.
        unauthenticated = await session_client.post(
            "/oauth/revoke", data={"token": access, "client_id": client_id}
        )
        assert (unauthenticated.status_code, unauthenticated.json()["error"]) == (
            401, "invalid_client",
        )  # fmt: skip
        assert (await ask(session_client, access, PAGE)).status_code == 200
        oauth.revocation_endpoint_auth_method = "private_key_jwt"
        assert (await oauth.revoke_token(REVOKE_URL, token=access)).status_code == 200
    dead = await ask(session_client, access, PAGE)
    assert dead.json()["errors"][0]["extensions"]["reason"] == "token_revoked"


async def test_revoking_a_client_stops_its_tokens(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    created = await register(clock, "patient.read")
    token = await client_token(session_app, created)
    assert await revoke_client(created.client.public_id, clock)
    response = await ask(session_client, token, PAGE)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    again = await raw_token(
        session_client, {"grant_type": "client_credentials"},
        (created.client.public_id, created.secret),
    )  # fmt: skip
    assert again.json()["error"] == "invalid_client"
    assert ("CLIENT_REVOKED", created.client.public_id, created.client.public_id) in (
        await events("CLIENT_REVOKED")
    )


# --- tokens /graphql refuses --------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_tampered_expired_foreign_and_unsigned_tokens_are_refused(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock, settings: Settings,
) -> None:  # fmt: skip
    created = await register(clock, "patient.read phi.demographics")
    token = await client_token(session_app, created)
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    header = json.loads(base64.urlsafe_b64decode(head + "=="))
    assert (header["alg"], header["typ"]) == ("ES256", "at+jwt")
    # The server's own key, loaded through its own code, signs tokens it must still refuse.
    keys = SigningKeys(key_provider(settings), clock)
    await keys.reload()
    _, key = keys.signer()
    bad = {
        "tampered": f"{head}.{_b64({**claims, 'scope': 'phi.identifiers'})}.{signature}",
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': header['kid']})}.{payload}.",
        "hs256_with_public_key": jwt.encode(
            {**header, "alg": "HS256"}, claims,
            OctKey.import_key(json.dumps(keys.jwks()["keys"][0])), algorithms=["HS256"],
        ),
        "wrong_audience": jwt.encode(header, {**claims, "aud": "https://other.example"}, key),
        "wrong_issuer": jwt.encode(header, {**claims, "iss": "https://other.example"}, key),
        "wrong_type": jwt.encode({**header, "typ": "JWT"}, claims, key),
        "unknown_jti": jwt.encode(header, {**claims, "jti": "never-issued"}, key),
        "garbage": "a.b.c",
    }  # fmt: skip
    for name, value in bad.items():
        response = await ask(session_client, value, PAGE)
        assert response.status_code == 401, name
        assert response.json()["errors"][0]["extensions"]["reason"] == "invalid_token", name
    assert (await ask(session_client, token, PAGE)).status_code == 200
    clock.advance(seconds=601)
    expired = await ask(session_client, token, PAGE)
    assert expired.status_code == 401
    assert expired.json()["errors"][0]["extensions"]["reason"] == "token_expired"


async def test_client_networks_are_enforced(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    fenced = await register(clock, "patient.read", allowed_networks="10.0.0.0/8")
    refused = await raw_token(
        session_client, {"grant_type": "client_credentials"},
        (fenced.client.public_id, fenced.secret or ""),
    )  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"] == "access_denied"
    created = await register(clock, "patient.read", allowed_networks="127.0.0.0/8")
    token = await client_token(session_app, created)
    assert (await ask(session_client, token, PAGE)).status_code == 200
    await OAuthClient.filter(id=created.client.id).update(allowed_networks="10.0.0.0/8")
    moved = await ask(session_client, token, PAGE)
    assert moved.status_code == 403
    assert moved.json()["errors"][0]["extensions"]["reason"] == "network_not_allowed"


async def test_metadata_and_jwks(session_client: httpx.AsyncClient, session_world: World) -> None:
    metadata = (await session_client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == BASE
    assert metadata["token_endpoint"] == TOKEN_URL
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    confidential = {"client_secret_basic", "client_secret_post", "private_key_jwt"}
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {*confidential, "none"}
    assert set(metadata["revocation_endpoint_auth_methods_supported"]) == {*confidential, "none"}
    # A public client proves nothing by its client_id: it may not introspect.
    assert set(metadata["introspection_endpoint_auth_methods_supported"]) == confidential
    jwks = (await session_client.get(metadata["jwks_uri"].removeprefix(BASE))).json()
    [key] = jwks["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("EC", "ES256", "sig")
    assert len(key["kid"]) == 43  # its RFC 7638 thumbprint
    assert "d" not in key


# --- authorization code with PKCE -------------------------------------------------------------


async def login(http: httpx.AsyncClient, username: str) -> str:
    response = await http.post("/auth/login", json={"username": username, "password": PASSWORD})
    token: str = response.json()["token"]
    return token


class App:
    """A third-party app (authlib's client) and the user's browser (the session client)."""

    def __init__(self, app: Starlette, browser: httpx.AsyncClient, client_id: str,
                 secret: str | None, session: str) -> None:  # fmt: skip
        self.oauth = partner(
            app, client_id, secret, redirect_uri=REDIRECT, code_challenge_method="S256",
            scope="patient.read phi.demographics phi.clinical",
        )  # fmt: skip
        self.browser = browser
        self.session = {"authorization": f"Bearer {session}"}

    async def authorize(self, decision: str = "approve") -> tuple[str, str]:
        """(code redirect, code verifier) after the user's decision on the consent screen."""
        verifier = generate_token(48)
        url, state = self.oauth.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
        page = await self.browser.get(url.removeprefix(BASE), headers=self.session)
        assert page.status_code == 200, page.text
        params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        decided = await self.browser.post(
            "/oauth/authorize", json={**params, "decision": decision}, headers=self.session
        )
        assert decided.status_code == 302, decided.text
        location = decided.headers["location"]
        assert parse_qs(urlsplit(location).query)["state"] == [state]
        return location, verifier


@pytest.fixture
async def third_party(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> AsyncIterator[App]:  # fmt: skip
    created = await register(
        clock, "patient.read phi.demographics phi.clinical", grant=Grant.AUTHORIZATION_CODE
    )
    session = await login(session_client, "alice")
    app = App(session_app, session_client, created.client.public_id, created.secret, session)
    async with app.oauth:
        yield app


async def test_authorization_code_with_pkce_acts_for_the_user(
    third_party: App, session_client: httpx.AsyncClient, session_world: World
) -> None:
    url, _ = third_party.oauth.create_authorization_url(
        AUTHORIZE_URL, code_verifier=generate_token(48)
    )
    page = (await session_client.get(url.removeprefix(BASE), headers=third_party.session)).json()
    assert page["client"]["name"] == "Partner"
    assert page["scopes"] == ["patient.read", "phi.clinical", "phi.demographics"]
    location, verifier = await third_party.authorize()
    assert location.startswith(REDIRECT + "?code=")
    oauth = third_party.oauth
    token = await oauth.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=verifier
    )
    assert token["refresh_token"]
    body = (
        await ask(session_client, token["access_token"], PATIENT, id=session_world.patients["own"])
    ).json()
    # alice's own record, through the app: her role allows everything, the scopes do not.
    assert body["data"]["patient"]["givenName"] == OWN["given_name"]
    assert body["data"]["patient"]["diagnoses"] == [{"code": "E11.9"}]
    assert forbidden_paths(body) == {"patient.ssn", "patient.mrn"}
    other = (
        await ask(session_client, token["access_token"], PATIENT,
                  id=session_world.patients["other"])
    ).json()  # fmt: skip
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    alice = (await session_client.get("/auth/session", headers=third_party.session)).json()
    app_id = third_party.oauth.client_id
    assert await events("CONSENT_GRANTED", "TOKEN_GRANTED") == [
        ("CONSENT_GRANTED", alice["user"], app_id),
        ("TOKEN_GRANTED", alice["user"], app_id),
    ]
    # A code works once; presented again, it also revokes what it bought.
    oauth = third_party.oauth
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    reused = await ask(session_client, token["access_token"], PAGE)
    assert reused.json()["errors"][0]["extensions"]["reason"] == "token_revoked"


async def test_pkce_is_required_and_only_s256(
    third_party: App, session_client: httpx.AsyncClient
) -> None:
    verifier = generate_token(48)
    location, _ = await third_party.authorize()
    oauth = third_party.oauth
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    base = {"response_type": "code", "client_id": third_party.oauth.client_id,
            "redirect_uri": REDIRECT, "scope": "patient.read"}  # fmt: skip
    for extra in ({}, {"code_challenge": verifier, "code_challenge_method": "plain"}):
        refused = await session_client.get(
            "/oauth/authorize", params={**base, **extra}, headers=third_party.session
        )
        assert refused.status_code == 302
        assert parse_qs(urlsplit(refused.headers["location"]).query)["error"] == ["invalid_request"]
    elsewhere = await session_client.get(
        "/oauth/authorize", headers=third_party.session,
        params={**base, "redirect_uri": "https://evil.example/cb", "code_challenge": verifier,
                "code_challenge_method": "S256"},
    )  # fmt: skip
    # Never redirected to an unregistered URI.
    assert elsewhere.status_code == 400
    assert "location" not in elsewhere.headers


async def test_consent_needs_a_session_and_csrf_and_may_be_denied(
    third_party: App, session_client: httpx.AsyncClient
) -> None:
    url, _ = third_party.oauth.create_authorization_url(
        AUTHORIZE_URL, code_verifier=generate_token(48)
    )
    anonymous = await session_client.get(url.removeprefix(BASE), headers={"cookie": ""})
    assert (anonymous.status_code, anonymous.json()) == (401, {"error": "login_required"})
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    cookie = third_party.session["authorization"].removeprefix("Bearer ")
    no_csrf = await session_client.post(
        "/oauth/authorize", json={**params, "decision": "approve"},
        headers={"cookie": f"__Host-phigate-session={cookie}"},
    )  # fmt: skip
    assert no_csrf.status_code == 403
    location, _ = await third_party.authorize("deny")
    assert parse_qs(urlsplit(location).query)["error"] == ["access_denied"]
    assert [e for e, _, _ in await events("CONSENT_DENIED")] == ["CONSENT_DENIED"]


async def test_refresh_tokens_rotate_and_reuse_revokes_the_family(
    third_party: App, session_client: httpx.AsyncClient, clock: ManualClock
) -> None:
    location, verifier = await third_party.authorize()
    oauth = third_party.oauth
    first = await oauth.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=verifier
    )
    second = await oauth.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    assert (await ask(session_client, second["access_token"], PAGE)).status_code == 200
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.refresh_token(TOKEN_URL, refresh_token=second["refresh_token"])
    for token in (first, second):
        response = await ask(session_client, token["access_token"], PAGE)
        assert response.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    assert [e for e, _, _ in await events("REFRESH_REUSE_DETECTED")] == ["REFRESH_REUSE_DETECTED"]
    assert await AccessToken.filter(revoked_at__isnull=True).count() == 0


async def test_a_refused_refresh_leaves_the_token_for_the_corrected_retry(
    third_party: App, session_client: httpx.AsyncClient
) -> None:
    """A refresh refused for the client's mistake spends nothing: the corrected retry is not
    taken for theft. The token is spent by the refresh that succeeds, and only then."""
    location, verifier = await third_party.authorize()
    oauth = third_party.oauth
    first = await oauth.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=verifier
    )
    wider = f"{first['scope']} phi.identifiers"
    with pytest.raises(OAuthError, match="invalid_scope"):
        await oauth.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"], scope=wider)
    narrower = await oauth.refresh_token(
        TOKEN_URL, refresh_token=first["refresh_token"], scope="patient.read"
    )
    assert narrower["scope"] == "patient.read"
    for token in (first, narrower):
        assert (await ask(session_client, token["access_token"], PAGE)).status_code == 200
    assert await events("REFRESH_REUSE_DETECTED") == []
    # Spent by the refresh that succeeded: presented again, it is reuse.
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert [e for e, _, _ in await events("REFRESH_REUSE_DETECTED")] == ["REFRESH_REUSE_DETECTED"]
    assert await AccessToken.filter(revoked_at__isnull=True).count() == 0


async def test_two_refreshes_racing_with_one_token_are_reuse(
    third_party: App, session_client: httpx.AsyncClient
) -> None:
    """Both pass every check before either spends the token: the store lets exactly one
    spend it, and the other is treated as reuse, as if it came second."""
    location, verifier = await third_party.authorize()
    oauth = third_party.oauth
    first = await oauth.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=verifier
    )
    auth = (oauth.client_id, oauth.client_secret)
    data = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    answers = await asyncio.gather(*(raw_token(session_client, data, auth) for _ in range(2)))
    assert sorted(answer.status_code for answer in answers) == [200, 400]
    assert [a.json()["error"] for a in answers if a.status_code == 400] == ["invalid_grant"]
    assert [e for e, _, _ in await events("REFRESH_REUSE_DETECTED")] == ["REFRESH_REUSE_DETECTED"]
    assert await AccessToken.filter(revoked_at__isnull=True).count() == 0


async def test_two_exchanges_racing_with_one_code_are_reuse(
    third_party: App, session_client: httpx.AsyncClient
) -> None:
    location, verifier = await third_party.authorize()
    oauth = third_party.oauth
    data = {
        "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code_verifier": verifier,
        "code": parse_qs(urlsplit(location).query)["code"][0],
    }  # fmt: skip
    auth = (oauth.client_id, oauth.client_secret)
    answers = await asyncio.gather(*(raw_token(session_client, data, auth) for _ in range(2)))
    assert sorted(answer.status_code for answer in answers) == [200, 400]
    assert [a.json()["error"] for a in answers if a.status_code == 400] == ["invalid_grant"]
    assert [e for e, _, _ in await events("CODE_REUSE_DETECTED")] == ["CODE_REUSE_DETECTED"]
    [won] = [answer.json() for answer in answers if answer.status_code == 200]
    revoked = await ask(session_client, won["access_token"], PAGE)
    assert revoked.json()["errors"][0]["extensions"]["reason"] == "token_revoked"


async def test_a_wrong_code_verifier_leaves_the_code_for_the_right_one(
    third_party: App, session_client: httpx.AsyncClient, clock: ManualClock
) -> None:
    oauth = third_party.oauth
    location, verifier = await third_party.authorize()
    for wrong in (generate_token(48), verifier[:-1] + ("A" if verifier[-1] != "A" else "B")):
        with pytest.raises(OAuthError, match="invalid_grant"):
            await oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=wrong)
    token = await oauth.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=verifier
    )
    assert (await ask(session_client, token["access_token"], PAGE)).status_code == 200
    assert await events("CODE_REUSE_DETECTED") == []
    # Spent now: presented again, even with the right verifier, it revokes what it bought.
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)
    revoked = await ask(session_client, token["access_token"], PAGE)
    assert revoked.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    # Left unspent, a code still dies with its 60 s life.
    location, verifier = await third_party.authorize()
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=generate_token(48)
        )
    clock.advance(seconds=61)
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)


async def test_a_wrong_type_hint_still_finds_the_token(
    third_party: App, session_client: httpx.AsyncClient
) -> None:
    """RFC 7009 2.1, RFC 7662 2.1: the hint is a hint. A token revoked under the other type's
    hint is revoked; introspected under it, a live token is active."""
    location, verifier = await third_party.authorize()
    oauth = third_party.oauth
    token = await oauth.fetch_token(
        TOKEN_URL, authorization_response=location, code_verifier=verifier
    )
    access, refresh = token["access_token"], token["refresh_token"]
    for value, kind, hint in ((access, "access_token", "refresh_token"),
                              (refresh, "refresh_token", "access_token")):  # fmt: skip
        info = await oauth.introspect_token(INTROSPECT_URL, token=value, token_type_hint=hint)
        assert (info.json()["active"], info.json()["token_type"]) == (True, kind)
    revoked = await oauth.revoke_token(REVOKE_URL, token=access, token_type_hint="refresh_token")
    assert revoked.status_code == 200
    dead = await ask(session_client, access, PAGE)
    assert dead.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    info = await oauth.introspect_token(
        INTROSPECT_URL, token=access, token_type_hint="refresh_token"
    )
    assert info.json() == {"active": False}
    # The refresh token was not revoked with its access token, and still rotates.
    second = await oauth.refresh_token(TOKEN_URL, refresh_token=refresh)
    revoked = await oauth.revoke_token(
        REVOKE_URL, token=second["refresh_token"], token_type_hint="access_token"
    )
    assert revoked.status_code == 200
    with pytest.raises(OAuthError, match="invalid_grant"):
        await oauth.refresh_token(TOKEN_URL, refresh_token=second["refresh_token"])
    # Revoking the refresh token revoked its family, the access token it came with included.
    gone = await ask(session_client, second["access_token"], PAGE)
    assert gone.json()["errors"][0]["extensions"]["reason"] == "token_revoked"


async def test_a_public_client_uses_pkce_and_no_secret(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    """A native or single-page app (`token_endpoint_auth_method: none`): authorization code
    with PKCE, rotating refresh tokens and revocation by client_id alone; no secret is ever
    made for it, and it may not use client_credentials or introspect."""
    created = await register(
        clock, "patient.read phi.demographics phi.clinical", grant=Grant.AUTHORIZATION_CODE,
        auth_method=ClientAuthMethod.NONE,
    )  # fmt: skip
    assert created.secret is None
    assert (await OAuthClient.get(id=created.client.id)).secret_hash is None
    client_id = created.client.public_id
    app = App(session_app, session_client, client_id, None, await login(session_client, "alice"))
    async with app.oauth as oauth:
        assert oauth.token_endpoint_auth_method == "none"  # authlib's default without a secret
        location, verifier = await app.authorize()
        missing = await raw_token(session_client, {
            "grant_type": "authorization_code", "client_id": client_id, "redirect_uri": REDIRECT,
            "code": parse_qs(urlsplit(location).query)["code"][0],
        })  # fmt: skip
        assert missing.json()["error"] == "invalid_request"  # no code_verifier
        token = await oauth.fetch_token(
            TOKEN_URL, authorization_response=location, code_verifier=verifier
        )
        body = (await ask(session_client, token["access_token"], PATIENT,
                          id=session_world.patients["own"])).json()  # fmt: skip
        assert body["data"]["patient"]["givenName"] == OWN["given_name"]
        rotated = await oauth.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
        assert rotated["refresh_token"] != token["refresh_token"]
        introspected = await session_client.post(
            "/oauth/introspect", data={"token": rotated["access_token"], "client_id": client_id}
        )
        assert introspected.json()["error"] == "invalid_client"
        revoked = await oauth.revoke_token(REVOKE_URL, token=rotated["refresh_token"])
        assert revoked.status_code == 200
    dead = await ask(session_client, rotated["access_token"], PAGE)
    assert dead.json()["errors"][0]["extensions"]["reason"] == "token_revoked"
    for data in ({"grant_type": "client_credentials", "client_id": client_id},
                 {"grant_type": "client_credentials", "client_id": client_id,
                  "client_secret": "guessed"}):  # fmt: skip
        refused = await raw_token(session_client, data)
        assert refused.json()["error"] == "invalid_client"
    with pytest.raises(ClientError, match="authorization_code only"):
        await register(clock, "patient.read", auth_method=ClientAuthMethod.NONE)


# --- reports ------------------------------------------------------------------------------

REPORT = "{ report { patients(first: 10) { totalCount edges { node { id zip givenName } } } } }"
AGGREGATE_ZIP3 = "{ report { aggregate(by: [ZIP3]) { suppressed total } } }"


async def test_reports_read_decides_report_access_for_tokens(
    session_app: Starlette, session_client: httpx.AsyncClient, session_world: World,
    clock: ManualClock,
) -> None:  # fmt: skip
    reports_only = await register(clock, "reports.read", role=Role.RESEARCHER)
    identified = await register(clock, "patient.read phi.demographics")
    both = await register(clock, "patient.read phi.demographics reports.read")
    tokens = {}
    for name, created in (("reports_only", reports_only), ("identified", identified),
                          ("both", both)):  # fmt: skip
        tokens[name] = await client_token(session_app, created)

    # Only reports.read: de-identified aggregates of its organization (row-level pages go only
    # to a caller reading the same rows identified), and nothing identified.
    body = (await ask(session_client, tokens["reports_only"], REPORT)).json()
    assert body["data"] == {"report": {"patients": None}}
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["report", "patients"])
    ]
    body = (await ask(session_client, tokens["reports_only"], AGGREGATE_ZIP3)).json()
    assert body == {"data": {"report": {"aggregate": {"suppressed": 2, "total": None}}}}
    page = (await ask(session_client, tokens["reports_only"], PAGE)).json()
    assert page == {"data": {"patients": {"totalCount": 0}}}

    # Without reports.read no report runs, whatever the role allows.
    body = (await ask(session_client, tokens["identified"], REPORT)).json()
    assert body["data"] == {"report": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]

    # With both, a billing client reports within its own rows and policy.
    body = (await ask(session_client, tokens["both"], REPORT)).json()
    assert body["data"]["report"]["patients"]["totalCount"] == 3
