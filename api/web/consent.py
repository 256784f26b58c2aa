"""The OAuth2 consent page: which app asks, for what in plain words, approve or deny. The
decision goes back, through pages.js, as the JSON consent request (api/oauth/routes.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from starlette.responses import HTMLResponse

from api.web.html import page
from permissions.scopes import Scope
from permissions.tables import complete

PLAIN_SCOPES: Mapping[Scope, str] = complete(
    "PLAIN_SCOPES",
    {
        Scope.PATIENT_READ: "See which patient records you can open (no details by itself)",
        Scope.PHI_DEMOGRAPHICS: "Names, birth dates, addresses, ZIP codes, phone numbers and email",
        Scope.PHI_IDENTIFIERS: "Medical record numbers and social security numbers",
        Scope.PHI_CLINICAL: "Diagnoses, lab results, clinical notes and their dates",
        Scope.REPORTS_READ: "De-identified statistics only: nothing that names anyone",
    },
    Scope,
)


def plain(scope: str) -> str:
    return PLAIN_SCOPES[Scope(scope)] if scope in Scope.__members__.values() else scope


def consent_page(
    client_name: str, scopes: Sequence[str], parameters: Sequence[tuple[str, str]]
) -> HTMLResponse:
    items = "".join(f"<li>{escape(plain(scope))}</li>" for scope in scopes)
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in parameters
    )
    content = f"""
<p><strong>{escape(client_name)}</strong> asks to see, on your behalf:</p>
<ul class="scopes">{items}</ul>
<p>It can do this until you sign out of it or an administrator revokes it.</p>
<form data-form="consent" novalidate>{hidden}
  <p><button type="submit" name="decision" value="approve">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button></p>
</form>
"""
    return page(f"Allow {client_name}?", content)
