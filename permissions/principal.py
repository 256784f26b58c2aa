"""`Principal`: who is asking, built once per request by the HTTP layer, then immutable."""

from __future__ import annotations

from dataclasses import dataclass

from permissions.policy import RowScope
from permissions.roles import Purpose, Role


@dataclass(frozen=True, slots=True)
class Principal:
    actor: str
    """Public id of the user or OAuth2 client."""
    role: Role
    purpose: Purpose
    request_id: str
    ip: str | None = None
    user_pk: int | None = None
    """Database key of the user, for row-access queries. Never serialised."""
    session_id: str | None = None
    client: str | None = None
    scopes: frozenset[str] | None = None
    """OAuth2 scopes granted to the token; None when the request is not an OAuth2 token."""
    row_scope: RowScope | None = None
    """Overrides the role's row scope: a client_credentials client sees its organization."""
    launch_patient_pk: int | None = None
    """Database key of the patient a SMART token was launched with (`launch/patient`): a
    token with a patient/ scope sees this patient only (permissions/smart.py). Never
    serialised."""
    organization_pk: int | None = None
    """Database key of the principal's organization: a client's, or a user's account's (None
    for a user in none). Rows by `RowScope.ORGANIZATION` and a report's patients are this
    organization's; a registered patient joins it. Never serialised."""
