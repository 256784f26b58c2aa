"""`phigate users` and `phigate organizations` as an operator runs them (real processes) against
the database a live app serves: each change takes effect on the app's next request and is an
audit record naming the operator's OS account."""

from __future__ import annotations

import httpx

from api.settings import Settings
from models import AuditEvent, User
from permissions.roles import Role
from tests.ops import phigate
from tests.test_auth import login, query
from tests.world import USERS, World


async def test_list_and_show(settings: Settings, session_world: World) -> None:
    listed = await phigate(settings, "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert sorted(line.split()[-1] for line in listed.stdout.splitlines()) == sorted(USERS)
    physicians = await phigate(settings, "users", "list", "--role", "physician")
    assert [line.split()[-1] for line in physicians.stdout.splitlines()] == ["doc"]
    shown = await phigate(settings, "users", "show", "doc")
    doc = await User.get(username="doc")
    assert f"user_id:          {doc.public_id}" in shown.stdout
    assert "role:             physician" in shown.stdout
    assert "password" not in shown.stdout.replace("must_change_pw", "")
    by_id = await phigate(settings, "users", "show", doc.public_id)
    assert by_id.stdout == shown.stdout
    organizations = await phigate(settings, "organizations", "list")
    assert organizations.stdout.strip().endswith("Test Hospital")


async def test_disable_enable_logout_take_effect_on_the_live_app(
    settings: Settings, session_client: httpx.AsyncClient, session_world: World
) -> None:
    token = (await login(session_client, "alice")).json()["token"]
    logout = await phigate(settings, "users", "logout", "alice")
    assert logout.stdout.strip() == "alice: every session, device and token ended"
    assert (await query(session_client, token, session_world)).status_code == 401

    disabled = await phigate(settings, "users", "disable", "alice")
    assert disabled.returncode == 0, disabled.stderr
    assert (await login(session_client, "alice")).status_code == 401
    listed = await phigate(settings, "users", "list", "--disabled")
    assert [line.split()[-1] for line in listed.stdout.splitlines()] == ["alice"]
    enabled = await phigate(settings, "users", "enable", "alice")
    assert enabled.returncode == 0, enabled.stderr
    assert (await login(session_client, "alice")).status_code == 200

    actors = await AuditEvent.filter(
        event__in=["SESSIONS_ENDED", "USER_DISABLED", "USER_ENABLED"]
    ).values_list("actor", flat=True)
    assert len(actors) == 3
    assert all(actor.startswith("cli:") for actor in actors)


async def test_set_role_and_reset_mfa(settings: Settings, session_world: World) -> None:
    await User.filter(username="nurse").update(totp_confirmed=True)
    changed = await phigate(settings, "users", "set-role", "nurse", "physician")
    assert changed.stdout.strip() == "nurse: role physician; sessions ended"
    reset = await phigate(settings, "users", "reset-mfa", "nurse")
    assert reset.returncode == 0, reset.stderr
    nurse = await User.get(username="nurse")
    assert (nurse.role, nurse.totp_confirmed, nurse.totp_secret) == (Role.PHYSICIAN, False, None)
    assert await AuditEvent.filter(event__in=["ROLE_CHANGED", "MFA_RESET"]).count() == 2


async def test_mistakes_are_one_clear_line(settings: Settings, session_world: World) -> None:
    unknown = await phigate(settings, "users", "disable", "nobody")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("phigate: ")
    assert len(unknown.stderr.strip().splitlines()) == 1
    role = await phigate(settings, "users", "set-role", "doc", "wizard")
    assert role.returncode == 2
    assert "invalid choice: 'wizard'" in role.stderr
    assert "Traceback" not in unknown.stderr + role.stderr
