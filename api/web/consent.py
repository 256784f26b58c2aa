"""The OAuth2 consent page: which app asks, for what in plain words, approve or deny. The
decision goes back, through pages.js, as the JSON consent request (api/oauth/routes.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from starlette.responses import HTMLResponse

from api.web.html import page
from permissions.scopes import Scope
from permissions.smart import Context, LaunchScope, resource_scopes
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
    if scope in Scope.__members__.values():
        return PLAIN_SCOPES[Scope(scope)]
    return smart_plain(scope)


def _launch_choice(patients: Sequence[str] | None) -> str:
    """A select of the patients the user may launch the app with: ids only, since a name
    shown here would be PHI read outside the guard."""
    if patients is None:
        return ""
    options = "".join(f'<option value="{escape(p)}">{escape(p)}</option>' for p in patients)
    return f"""
<p><label>For the patient <select name="patient" required>{options}</select></label></p>"""


def consent_page(
    client_name: str,
    scopes: Sequence[str],
    parameters: Sequence[tuple[str, str]],
    patients: Sequence[str] | None = None,
) -> HTMLResponse:
    """`patients`: the launch patients to pick from, when the app asks for one."""
    items = "".join(f"<li>{escape(plain(scope))}</li>" for scope in scopes)
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in parameters
    )
    content = f"""
<p><strong>{escape(client_name)}</strong> asks to see, on your behalf:</p>
<ul class="scopes">{items}</ul>
<p>It can do this until you sign out of it or an administrator revokes it.</p>
<form data-form="consent" novalidate>{hidden}{_launch_choice(patients)}
  <p><button type="submit" name="decision" value="approve">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button></p>
</form>
"""
    return page(f"Allow {client_name}?", content)


LAUNCH_PLAIN: Mapping[LaunchScope, str] = complete(
    "LAUNCH_PLAIN",
    {
        LaunchScope.LAUNCH_PATIENT: "Know which patient you pick below",
        LaunchScope.OPENID: "Know who you are (your account id)",
        LaunchScope.FHIR_USER: "Know your record or staff account",
        LaunchScope.OFFLINE_ACCESS: "Keep access while you are not using it",
    },
    LaunchScope,
)
_CONTEXT_PLAIN: Mapping[Context, str] = complete(
    "_CONTEXT_PLAIN",
    {
        Context.PATIENT: "of the patient you pick",
        Context.USER: "of the patients you can see",
        Context.SYSTEM: "of the organization's patients",
    },
    Context,
)


def smart_plain(scope: str) -> str:
    """A SMART scope in words: the FHIR resources it reads, and whose."""
    if scope in LaunchScope.__members__.values():
        return LAUNCH_PLAIN[LaunchScope(scope)]
    parsed = resource_scopes([scope])
    if not parsed:
        return scope
    names = ", ".join(sorted(resource.value for resource in parsed[0].resources))
    return f"Read {names} records {_CONTEXT_PLAIN[parsed[0].context]}"
