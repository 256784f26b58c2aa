"""Login, TOTP, sessions, lockout, PIN unlock and IP allowlists, through the real app over HTTP
with real Argon2, real TOTP codes from oathtool and a clock the test controls."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.networks import parse_networks
from api.settings import ConfigError, Settings
from models import AuditEvent, User
from permissions.roles import Role
from tests.conftest import https_client
from tests.helpers import ManualClock, secret_of, totp_code
from tests.test_cli import phigate
from tests.world import OWN, PASSWORD, World

PHI = "query($id: ID!) { patient(id: $id) { ssn } }"


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/auth/login", json={"username": username, "password": password})


class Staff:
    """Drives one staff user through login, enrolment and TOTP."""

    def __init__(self, client: httpx.AsyncClient, oathtool: str, clock: ManualClock) -> None:
        self.client, self.oathtool, self.clock = client, oathtool, clock
        self.secret = ""

    async def enrol(self, username: str) -> dict[str, Any]:
        first = (await login(self.client, username)).json()
        assert first["mfa"] == "enrol"
        enrolment = (
            await self.client.post("/auth/mfa/enrol", json={"mfa_token": first["mfa_token"]})
        ).json()
        self.secret = secret_of(enrolment["otpauth_uri"])
        done = await self.verify(first["mfa_token"])
        assert done.status_code == 200, done.text
        return {**enrolment, **done.json()}

    def code(self) -> str:
        return totp_code(self.oathtool, self.secret, self.clock.now())

    async def verify(self, mfa_token: str, **body: str) -> httpx.Response:
        payload = body or {"code": self.code()}
        return await self.client.post("/auth/mfa", json={"mfa_token": mfa_token, **payload})

    async def login(self, username: str) -> str:
        step = (await login(self.client, username)).json()
        assert step["mfa"] == "verify"
        self.clock.advance(seconds=30)  # a fresh TOTP step: the previous code is spent
        response = await self.verify(step["mfa_token"])
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token


async def query(client: httpx.AsyncClient, token: str, world: World) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": PHI, "variables": {"id": world.patients["own"]}},
        headers={"authorization": f"Bearer {token}"},
    )


async def events(*names: str) -> list[str]:
    return list(
        await AuditEvent.filter(event__in=names).order_by("id").values_list("event", flat=True)
    )


@pytest.fixture
def staff(session_client: httpx.AsyncClient, oathtool: str, clock: ManualClock) -> Staff:
    return Staff(session_client, oathtool, clock)


async def test_enrol_then_login_with_totp(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    enrolled = await staff.enrol("doc")
    assert enrolled["otpauth_uri"].startswith("otpauth://totp/phigate:doc?")
    assert enrolled["qr_png"].startswith("data:image/png;base64,")
    assert len(set(enrolled["recovery_codes"])) == 10
    response = await query(session_client, enrolled["token"], session_world)
    assert response.json() == {"data": {"patient": {"ssn": OWN["ssn"]}}}
    token = await staff.login("doc")
    assert (await query(session_client, token, session_world)).status_code == 200
    assert await events("LOGIN_OK", "MFA_ENROLLED", "MFA_OK") == [
        "LOGIN_OK", "MFA_ENROLLED", "MFA_OK", "LOGIN_OK", "MFA_OK",
    ]  # fmt: skip


async def test_mfa_token_grants_nothing_and_codes_are_single_use(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    await staff.enrol("doc")
    step = (await login(session_client, "doc")).json()
    pending = step["mfa_token"]
    refused = await query(session_client, pending, session_world)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["reason"] == "invalid_token"
    # The code that completed enrolment is still within the window, but already used.
    replay = await staff.verify(pending)
    assert (replay.status_code, replay.json()) == (401, {"error": "invalid_code"})
    staff.clock.advance(seconds=30)
    assert (await staff.verify(pending)).status_code == 200
    # The pending token is spent once the full session is issued.
    assert (await staff.verify(pending)).json() == {"error": "session_revoked"}
    assert await events("MFA_FAILED") == ["MFA_FAILED"]


async def test_codes_one_step_away_work_and_two_steps_do_not(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    await staff.enrol("doc")
    for offset, accepted in ((-60, False), (60, False), (-30, True)):
        staff.clock.advance(seconds=90)
        pending = (await login(session_client, "doc")).json()["mfa_token"]
        code = totp_code(
            staff.oathtool, staff.secret, staff.clock.now() + timedelta(seconds=offset)
        )
        response = await staff.verify(pending, code=code)
        assert (response.status_code == 200) is accepted, offset


async def test_recovery_codes_work_once(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    codes = (await staff.enrol("doc"))["recovery_codes"]
    pending = (await login(session_client, "doc")).json()["mfa_token"]
    assert (await staff.verify(pending, recovery_code=codes[0].lower())).status_code == 200
    pending = (await login(session_client, "doc")).json()["mfa_token"]
    assert (await staff.verify(pending, recovery_code=codes[0])).status_code == 401
    assert await events("RECOVERY_CODE_USED") == ["RECOVERY_CODE_USED"]


async def test_wrong_password_and_unknown_user_look_the_same(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    wrong = await login(session_client, "doc", "wrong password")
    unknown = await login(session_client, "nobody-here", "wrong password")
    assert (wrong.status_code, wrong.json()) == (unknown.status_code, unknown.json())
    assert wrong.json() == {"error": "invalid_credentials"}
    records = await AuditEvent.filter(event="LOGIN_FAILED").order_by("id")
    assert [r.actor.startswith("usr_") for r in records] == [True, False]
    assert all("nobody-here" not in str(r.__dict__) for r in records)


@pytest.mark.parametrize("username", ["doc", "nobody-here"])
async def test_failures_slow_down_then_lock(
    session_client: httpx.AsyncClient, session_world: World, clock: ManualClock, username: str
) -> None:
    for _ in range(3):
        assert (await login(session_client, username, "nope")).status_code == 401
    slowed = await login(session_client, username, "nope")
    assert (slowed.status_code, slowed.json()["error"]) == (429, "slow_down")
    assert slowed.headers["retry-after"] == "1"
    clock.advance(seconds=1)
    assert (await login(session_client, username, "nope")).status_code == 401
    clock.advance(seconds=2)
    assert (await login(session_client, username, "nope")).status_code == 401
    locked = await login(session_client, username)  # even the right password
    assert (locked.status_code, locked.json()["error"]) == (429, "locked")
    assert await events("LOCKOUT") == ["LOCKOUT"]
    clock.advance(minutes=15)
    expected = 200 if username == "doc" else 401
    assert (await login(session_client, username)).status_code == expected


async def test_idle_timeout_then_absolute_lifetime(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff, clock: ManualClock
) -> None:
    token = (await staff.enrol("doc"))["token"]
    for _ in range(3):  # activity keeps the session alive past 15 minutes in total
        clock.advance(minutes=14)
        assert (await query(session_client, token, session_world)).status_code == 200
    clock.advance(minutes=15, seconds=10)  # the timeout, and the 9 s (1%) it may run late
    idle = await query(session_client, token, session_world)
    assert idle.status_code == 401
    extensions = idle.json()["errors"][0]["extensions"]
    assert extensions == {
        "code": "UNAUTHENTICATED", "reason": "idle_timeout", "request_id": extensions["request_id"],
    }  # fmt: skip
    assert idle.headers["www-authenticate"] == (
        'Bearer realm="phigate", error="invalid_token", error_description="idle_timeout"'
    )
    assert "data" not in idle.json()
    await query(session_client, token, session_world)
    assert await events("IDLE_EXPIRED") == ["IDLE_EXPIRED"]


@pytest.mark.parametrize("minutes", [1, 15])
async def test_activity_keeps_a_session_alive_and_idleness_ends_it(
    settings: Settings, session_app: Starlette, session_world: World, oathtool: str,
    clock: ManualClock, minutes: int,
) -> None:  # fmt: skip
    """A request that does not write `last_seen_at` (it came within 1% of the timeout after
    the last write) still counts as activity: a session in use never expires early, whatever
    the timeout. Left idle, it ends within 1% after the timeout."""
    timeout = timedelta(minutes=minutes)
    app = create_app(replace(settings, idle_timeout=timeout), clock=clock)
    app.state.keyring = session_app.state.keyring
    async with https_client(app) as http:
        token = (await Staff(http, oathtool, clock).enrol("doc"))["token"]
        for gap in (timeout / 100, timedelta(seconds=9)):
            clock.advance(seconds=gap.total_seconds())
            assert (await query(http, token, session_world)).status_code == 200
            clock.advance(seconds=timeout.total_seconds() - 1)  # idle just under the timeout
            assert (await query(http, token, session_world)).status_code == 200
        clock.advance(seconds=timeout.total_seconds() * 1.01 + 1)
        idle = await query(http, token, session_world)
        assert idle.json()["errors"][0]["extensions"]["reason"] == "idle_timeout"


@pytest.mark.parametrize("seconds", ["0", "5", "59"])
def test_an_idle_timeout_under_a_minute_is_refused_clearly(seconds: str, tmp_path: Path) -> None:
    env = {"PHIGATE_IDLE_TIMEOUT": seconds, "PHIGATE_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="PHIGATE_IDLE_TIMEOUT must be at least 60 seconds"):
        Settings.from_env(env)
    assert Settings.from_env({**env, "PHIGATE_IDLE_TIMEOUT": "60"}).idle_timeout.seconds == 60
    result = phigate("migrate", env={**env, "PHIGATE_MASTER_KEY": ""})
    assert result.returncode == 2
    assert "PHIGATE_IDLE_TIMEOUT must be at least 60 seconds" in result.stderr
    assert "Traceback" not in result.stderr


async def test_pin_unlocks_an_idle_session_within_its_lifetime(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff, clock: ManualClock
) -> None:
    token = (await staff.enrol("nurse"))["token"]
    auth = {"authorization": f"Bearer {token}"}
    short = await session_client.post("/auth/devices", json={"pin": "12345"}, headers=auth)
    assert (short.status_code, short.json()) == (400, {"error": "pin_must_be_6_or_more_digits"})
    device = (
        await session_client.post("/auth/devices", json={"pin": "482913"}, headers=auth)
    ).json()
    clock.advance(minutes=20)
    assert (await query(session_client, token, session_world)).status_code == 401
    unlock = {"device_id": device["device_id"], "pin": "482913"}
    assert (await session_client.post("/auth/unlock", json=unlock, headers=auth)).status_code == 204
    assert (await query(session_client, token, session_world)).status_code == 200
    clock.advance(hours=8)
    expired = await session_client.post("/auth/unlock", json=unlock, headers=auth)
    assert (expired.status_code, expired.json()) == (401, {"error": "session_expired"})


async def test_five_wrong_pins_revoke_the_device(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff, clock: ManualClock
) -> None:
    token = (await staff.enrol("nurse"))["token"]
    auth = {"authorization": f"Bearer {token}"}
    device = (
        await session_client.post("/auth/devices", json={"pin": "482913"}, headers=auth)
    ).json()
    clock.advance(minutes=20)
    for left in (4, 3, 2, 1, 0):
        wrong = {"device_id": device["device_id"], "pin": "000000"}
        response = await session_client.post("/auth/unlock", json=wrong, headers=auth)
        assert response.json() == {"error": "invalid_pin", "attempts_left": left}
    right = {"device_id": device["device_id"], "pin": "482913"}
    response = await session_client.post("/auth/unlock", json=right, headers=auth)
    assert (response.status_code, response.json()) == (401, {"error": "device_unknown_or_revoked"})
    assert await events("PIN_FAILED", "DEVICE_REVOKED") == ["PIN_FAILED"] * 5 + ["DEVICE_REVOKED"]


async def test_logout_revokes_at_once(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    token = (await staff.enrol("doc"))["token"]
    auth = {"authorization": f"Bearer {token}"}
    assert (await session_client.post("/auth/logout", headers=auth)).status_code == 204
    response = await query(session_client, token, session_world)
    assert response.json()["errors"][0]["extensions"]["reason"] == "session_revoked"
    assert await events("LOGOUT") == ["LOGOUT"]


async def test_logout_ends_an_idle_session_and_no_pin_revives_it(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff, clock: ManualClock
) -> None:
    token = (await staff.enrol("nurse"))["token"]
    auth = {"authorization": f"Bearer {token}"}
    device = (
        await session_client.post("/auth/devices", json={"pin": "482913"}, headers=auth)
    ).json()
    clock.advance(minutes=20)
    idle = await query(session_client, token, session_world)
    assert idle.json()["errors"][0]["extensions"]["reason"] == "idle_timeout"
    assert (await session_client.post("/auth/logout", headers=auth)).status_code == 204
    unlock = {"device_id": device["device_id"], "pin": "482913"}
    revived = await session_client.post("/auth/unlock", json=unlock, headers=auth)
    assert (revived.status_code, revived.json()) == (401, {"error": "session_revoked"})
    response = await query(session_client, token, session_world)
    assert response.json()["errors"][0]["extensions"]["reason"] == "session_revoked"
    # Ending it again is still a success, and not a second logout.
    assert (await session_client.post("/auth/logout", headers=auth)).status_code == 204
    assert await events("LOGOUT", "SESSION_UNLOCKED") == ["LOGOUT"]


async def test_logout_refuses_only_what_names_no_live_session(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff, clock: ManualClock
) -> None:
    enrolled = await staff.enrol("doc")
    # A cookie without its CSRF header: a cross-site page may not log the user out.
    forged = await session_client.post("/auth/logout")
    assert (forged.status_code, forged.json()) == (403, {"error": "csrf_token_invalid"})
    # From an address the user may not work from, the session may still be ended.
    await User.filter(username="doc").update(allowed_networks="10.9.0.0/16")
    cookie = await session_client.post(
        "/auth/logout", headers={"x-csrf-token": enrolled["csrf_token"]}
    )
    assert cookie.status_code == 204
    session_client.cookies.clear()
    auth = {"authorization": f"Bearer {enrolled['token']}"}
    ended = await session_client.get("/auth/session", headers=auth)
    assert (ended.status_code, ended.json()) == (401, {"error": "session_revoked"})
    await User.filter(username="doc").update(allowed_networks=None)
    token = await staff.login("doc")
    clock.advance(hours=8, seconds=1)
    for presented, reason in ((token, "session_expired"), ("not-a-session", "invalid_token")):
        headers = {"authorization": f"Bearer {presented}"}
        refused = await session_client.post("/auth/logout", headers=headers)
        assert (refused.status_code, refused.json()) == (401, {"error": reason})
    assert await events("LOGOUT") == ["LOGOUT"]


async def test_cookie_sessions_need_the_csrf_header_for_posts(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    enrolled = await staff.enrol("doc")
    cookie = session_client.cookies.get("__Host-phigate-session")
    assert cookie == enrolled["token"]
    body = {"query": PHI, "variables": {"id": session_world.patients["own"]}}
    refused = await session_client.post("/graphql", json=body)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["reason"] == "csrf_token_invalid"
    allowed = await session_client.post(
        "/graphql", json=body, headers={"x-csrf-token": enrolled["csrf_token"]}
    )
    assert allowed.json() == {"data": {"patient": {"ssn": OWN["ssn"]}}}


async def test_set_cookie_is_host_only_secure_httponly_strict(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    step = (await login(session_client, "doc")).json()
    enrolment = await session_client.post("/auth/mfa/enrol", json={"mfa_token": step["mfa_token"]})
    staff.secret = secret_of(enrolment.json()["otpauth_uri"])
    response = await staff.verify(step["mfa_token"])
    header = response.headers["set-cookie"]
    assert header.startswith("__Host-phigate-session=")
    for attribute in ("Secure", "HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute in header
    assert "Domain" not in header


async def test_patient_without_mfa_gets_a_session_directly(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    response = await login(session_client, "alice")
    token = response.json()["token"]
    assert (await query(session_client, token, session_world)).json() == {
        "data": {"patient": {"ssn": OWN["ssn"]}}
    }


async def test_plain_http_is_refused_and_https_gets_hsts(
    session_app: Starlette, session_world: World
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=session_app), base_url="http://phigate.test"
    ) as http:
        response = await login(http, "alice")
        assert (response.status_code, response.json()) == (403, {"error": "https_required"})
        assert (await http.get("/healthz")).status_code == 200
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=session_app), base_url="https://phigate.test"
    ) as https:
        response = await login(https, "alice")
        assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_role_allowlist_and_trusted_proxies(
    settings: Settings, session_app: Starlette, session_world: World, clock: ManualClock
) -> None:
    office = replace(settings, role_networks={Role.PATIENT: parse_networks("10.20.0.0/16")})
    proxied = replace(office, trusted_proxies=parse_networks("127.0.0.1/32"))
    cases = [
        (office, "https", {}, 403),  # 127.0.0.1 is not the office
        (office, "https", {"x-forwarded-for": "10.20.1.2"}, 403),  # no trusted proxy: ignored
        (proxied, "https", {"x-forwarded-for": "10.20.1.2"}, 200),
        (proxied, "https", {"x-forwarded-for": "10.20.1.2, 192.0.2.9"}, 403),  # spoofed left part
        (proxied, "http", {"x-forwarded-for": "10.20.1.2", "x-forwarded-proto": "https"}, 200),
        (office, "http", {"x-forwarded-proto": "https"}, 403),  # untrusted peer: https_required
    ]
    for config, scheme, headers, status in cases:
        app = create_app(config, clock=clock)
        app.state.keyring = session_app.state.keyring
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://t") as http:
            response = await http.post(
                "/auth/login", json={"username": "alice", "password": PASSWORD}, headers=headers
            )
        assert response.status_code == status, (scheme, headers, response.text)
    assert "LOGIN_REFUSED_NETWORK" in await events("LOGIN_REFUSED_NETWORK")


async def test_user_allowlist_applies_to_every_request(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    token = (await login(session_client, "alice")).json()["token"]
    await User.filter(username="alice").update(allowed_networks="10.9.0.0/16")
    response = await query(session_client, token, session_world)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["reason"] == "network_not_allowed"


async def test_bad_requests_get_clear_errors(
    session_client: httpx.AsyncClient, session_world: World
) -> None:
    cases = [
        (
            {"content": b"username=doc", "headers": {"content-type": "text/plain"}},
            "content_type_must_be_json",
        ),
        ({"content": b"{nope", "headers": {"content-type": "application/json"}}, "invalid_json"),
        ({"json": ["doc"]}, "invalid_json"),
        ({"json": {"username": "doc"}}, "password_required"),
        ({"json": {"username": "doc", "password": 7}}, "password_required"),
        ({"json": {"username": "u" * 151, "password": "x"}}, "username_too_long"),
    ]
    for kwargs, error in cases:
        response = await session_client.post("/auth/login", **kwargs)
        assert (response.status_code, response.json()) == (400, {"error": error})


async def test_the_csrf_token_is_fetched_again_after_a_reload(
    session_client: httpx.AsyncClient, session_world: World, staff: Staff
) -> None:
    enrolled = await staff.enrol("doc")
    # A reloaded page has the cookie only: it asks the session for its token.
    again = await session_client.get("/auth/session")
    assert again.status_code == 200
    csrf = again.json()["csrf_token"]
    assert csrf == enrolled["csrf_token"]
    body = {"query": PHI, "variables": {"id": session_world.patients["own"]}}
    allowed = await session_client.post("/graphql", json=body, headers={"x-csrf-token": csrf})
    assert allowed.json() == {"data": {"patient": {"ssn": OWN["ssn"]}}}
    # Another session's token does not pass for this one.
    other = await staff.login("doc")
    other_csrf = (
        await session_client.get("/auth/session", headers={"authorization": f"Bearer {other}"})
    ).json()["csrf_token"]
    assert other_csrf != csrf
    session_client.cookies.set("__Host-phigate-session", enrolled["token"])
    refused = await session_client.post("/graphql", json=body, headers={"x-csrf-token": other_csrf})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["reason"] == "csrf_token_invalid"
