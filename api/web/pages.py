"""The sign-in, account and unlock pages: server-rendered HTML whose forms post, through
pages.js, to the same JSON endpoints as any client (api/auth/routes.py). Throttling, lockout,
audit and CSRF are therefore exactly theirs; these pages hold no authentication logic."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from api.auth import AuthRejected
from api.auth.sessions import Sessions
from api.web.html import page
from models import AuthSession, Passkey


def login_redirect(request: Request, reason: str | None) -> RedirectResponse:
    """To the sign-in page (or the unlock page, for an idle session) and back here after."""
    target = "/unlock" if reason == "idle_timeout" else "/signin"
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{target}?next={quote(back, safe='')}", status_code=303)


async def signed_in(sessions: Sessions, request: Request) -> AuthSession | RedirectResponse:
    """The request's live session, or where the browser must go to get one."""
    try:
        session = await sessions.current(request)
    except AuthRejected as exc:
        return login_redirect(request, exc.reason)
    return session if session is not None else login_redirect(request, None)


_SIGNIN_FORMS = """
<form id="password-step" data-form="login" novalidate>
  <p><label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" required maxlength="150"></p>
  <p><label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password"
    required maxlength="1024"></p>
  <p><button type="submit">Continue</button></p>
</form>
<section id="enrol-step" hidden aria-labelledby="enrol-heading">
  <h2 id="enrol-heading">Set up your authenticator app</h2>
  <p>Scan this code with an authenticator app, then enter the six-digit code it shows.</p>
  <div id="qr"></div>
  <details><summary>Cannot scan? Show the setup key</summary><p><code id="otpauth"></code></p>
  </details>
  <h3>Recovery codes</h3>
  <p>Keep these somewhere safe: each one signs you in once if your phone is lost.</p>
  <ol id="recovery-codes"></ol>
</section>
<form id="code-step" data-form="mfa" hidden novalidate>
  <p><label for="code">Six-digit code from your authenticator app</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
    pattern="[0-9]{6}" maxlength="6" required></p>
  <p><button type="submit">Sign in</button>
  <button type="button" id="passkey-mfa" data-action="passkey-mfa" hidden>
    Use a passkey instead</button></p>
</form>
"""

_UNLOCK = """
<p>Your session has been idle. Unlock it to carry on where you left off.</p>
<p><button type="button" id="passkey-unlock" data-action="passkey-unlock" hidden>
  Unlock with a passkey</button></p>
<form data-form="pin-unlock" id="pin-unlock" hidden novalidate>
  <p><label for="pin">PIN of this browser</label>
  <input id="pin" name="pin" type="password" inputmode="numeric" autocomplete="off"
    required maxlength="64"></p>
  <p><button type="submit">Unlock</button></p>
</form>
<p><button type="button" data-action="logout">Sign out instead</button></p>
"""


def _passkey_item(passkey: Passkey) -> str:
    name = escape(passkey.name)
    return (
        f"<li>{name} (added {passkey.created_at:%Y-%m-%d}) "
        f'<button type="button" data-action="remove-passkey" '
        f'data-id="{escape(passkey.public_id)}" aria-label="Remove passkey {name}">Remove</button>'
        "</li>"
    )


class Pages:
    def __init__(self, sessions: Sessions, ide: bool) -> None:
        self.sessions = sessions
        self.ide = ide

    def routes(self) -> list[Route]:
        return [
            Route("/signin", self.signin, methods=["GET"]),
            Route("/unlock", self.unlock, methods=["GET"]),
            Route("/account", self.account, methods=["GET"]),
        ]

    async def signin(self, _: Request) -> Response:
        return page("Sign in to phigate", _SIGNIN_FORMS)

    async def unlock(self, _: Request) -> Response:
        return page("Unlock your session", _UNLOCK)

    async def account(self, request: Request) -> Response:
        session = await signed_in(self.sessions, request)
        if isinstance(session, RedirectResponse):
            return session
        user = session.user
        listed = await Passkey.filter(user=user).order_by("created_at")
        passkeys = "".join(_passkey_item(p) for p in listed) or "<li>None yet.</li>"
        ide = '<li><a href="/graphql">GraphiQL</a> (development)</li>' if self.ide else ""
        content = f"""
<p>Signed in as <strong>{escape(user.username)}</strong> ({escape(user.role.value)}).</p>
<ul>{ide}</ul>
<section aria-labelledby="passkeys-heading">
  <h2 id="passkeys-heading">Passkeys</h2>
  <p>A passkey (Touch ID, Face ID, Windows Hello) signs you in instead of the six-digit code,
  and unlocks an idle session.</p>
  <ul id="passkeys">{passkeys}</ul>
  <form data-form="passkey" novalidate>
    <p><label for="passkey-name">Name for a new passkey</label>
    <input id="passkey-name" name="name" maxlength="100" value="This device"></p>
    <p><button type="submit">Add a passkey</button></p>
  </form>
</section>
<section aria-labelledby="pin-heading">
  <h2 id="pin-heading">Unlock PIN for this browser</h2>
  <p>After a while without activity your session locks; a PIN set here unlocks it.</p>
  <form data-form="device" novalidate>
    <p><label for="new-pin">New PIN (six digits or more)</label>
    <input id="new-pin" name="pin" type="password" inputmode="numeric" autocomplete="off"
      required minlength="6" maxlength="64"></p>
    <p><button type="submit">Set PIN</button></p>
  </form>
</section>
<p><button type="button" data-action="logout">Sign out</button></p>
"""
        return page("Your account", content)
