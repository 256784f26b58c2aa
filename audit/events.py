"""Security events (logins, MFA, lockouts, logouts, break-glass, export alerts...): one audit
row each, written at once.

Callers write the event before acting on it: if the audit store is down, the action fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from models import AuditEvent
from observe import metrics
from permissions.principal import Principal
from permissions.roles import Purpose


class AuthEvent(StrEnum):
    LOGIN_OK = "LOGIN_OK"
    LOGIN_FAILED = "LOGIN_FAILED"
    LOGIN_REFUSED_NETWORK = "LOGIN_REFUSED_NETWORK"
    LOCKOUT = "LOCKOUT"
    MFA_OK = "MFA_OK"
    MFA_FAILED = "MFA_FAILED"
    MFA_ENROLLED = "MFA_ENROLLED"
    RECOVERY_CODE_USED = "RECOVERY_CODE_USED"
    LOGOUT = "LOGOUT"
    IDLE_EXPIRED = "IDLE_EXPIRED"
    DEVICE_REGISTERED = "DEVICE_REGISTERED"
    PIN_FAILED = "PIN_FAILED"
    DEVICE_REVOKED = "DEVICE_REVOKED"
    SESSION_UNLOCKED = "SESSION_UNLOCKED"
    PASSKEY_REGISTERED = "PASSKEY_REGISTERED"
    PASSKEY_REMOVED = "PASSKEY_REMOVED"
    PASSKEY_USED = "PASSKEY_USED"
    PASSKEY_FAILED = "PASSKEY_FAILED"
    BREAK_GLASS_OPENED = "BREAK_GLASS_OPENED"
    BREAK_GLASS_CLOSED = "BREAK_GLASS_CLOSED"
    EXPORT_BUDGET_EXCEEDED = "EXPORT_BUDGET_EXCEEDED"


class OpsEvent(StrEnum):
    """Key, backup and import operations run from the `phigate` command line."""

    KEY_ROTATED = "KEY_ROTATED"
    KEY_REENCRYPTED = "KEY_REENCRYPTED"
    KEYS_REWRAPPED = "KEYS_REWRAPPED"
    BACKUP_CREATED = "BACKUP_CREATED"
    BACKUP_VERIFIED = "BACKUP_VERIFIED"
    BACKUP_RESTORED = "BACKUP_RESTORED"
    RECORDS_IMPORTED = "RECORDS_IMPORTED"
    """`phigate import`: one per run, with its counts (each record has its own write record)."""
    AUDIT_ARCHIVED = "AUDIT_ARCHIVED"


class OAuthEvent(StrEnum):
    """Partner access (OAuth2). The actor is the client's public id (or the user it acts for)."""

    TOKEN_GRANTED = "TOKEN_GRANTED"  # noqa: S105 (an event name)
    TOKEN_REFUSED = "TOKEN_REFUSED"  # noqa: S105 (an event name)
    TOKEN_INTROSPECTED = "TOKEN_INTROSPECTED"  # noqa: S105 (an event name)
    TOKEN_REVOKED = "TOKEN_REVOKED"  # noqa: S105 (an event name)
    REFRESH_REUSE_DETECTED = "REFRESH_REUSE_DETECTED"
    CODE_REUSE_DETECTED = "CODE_REUSE_DETECTED"
    CONSENT_GRANTED = "CONSENT_GRANTED"
    CONSENT_DENIED = "CONSENT_DENIED"
    CLIENT_CREATED = "CLIENT_CREATED"
    CLIENT_REVOKED = "CLIENT_REVOKED"


class AdminEvent(StrEnum):
    """Account, organization, care-team and proxy changes. The actor is who made the change
    (an admin, a patient, front desk, or `cli:<os user>`); `detail` names the target by its
    public id (and a patient target is in the `patient` column too)."""

    USER_CREATED = "USER_CREATED"
    ROLE_CHANGED = "ROLE_CHANGED"
    USER_DISABLED = "USER_DISABLED"
    USER_ENABLED = "USER_ENABLED"
    MFA_RESET = "MFA_RESET"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"  # noqa: S105 (an event name)
    PASSWORD_REJECTED = "PASSWORD_REJECTED"  # noqa: S105 (an event name)
    SESSIONS_ENDED = "SESSIONS_ENDED"
    NETWORKS_CHANGED = "NETWORKS_CHANGED"
    ORGANIZATION_CREATED = "ORGANIZATION_CREATED"
    CARE_TEAM_ASSIGNED = "CARE_TEAM_ASSIGNED"
    CARE_TEAM_REMOVED = "CARE_TEAM_REMOVED"
    PROXY_GRANTED = "PROXY_GRANTED"
    PROXY_REVOKED = "PROXY_REVOKED"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who an event is about. Unknown usernames are not recorded: they may be mistyped secrets."""

    public_id: str = "unknown"
    role: str = "-"


async def record_event(
    event: AuthEvent | OAuthEvent | OpsEvent | AdminEvent,
    actor: Actor,
    *,
    at: datetime,
    request_id: str,
    ip: str | None,
    purpose: Purpose = Purpose.SECURITY,
    detail: str | None = None,
    client: str | None = None,
    patient: str | None = None,
) -> None:
    """`detail`: what an operation did (key version, counts, archive id), never a secret;
    `patient`: the public id of the patient the event concerns, if any."""
    if isinstance(event, AuthEvent):
        metrics.AUTH_EVENTS.labels(event.value).inc()
    try:
        await AuditEvent.create(
            at=at,
            request_id=request_id,
            event=event.value,
            actor=actor.public_id,
            role=actor.role,
            purpose=purpose.value,
            ip=ip,
            detail=detail,
            client=client,
            patient=patient,
        )
    except Exception:
        metrics.AUDIT_WRITE_FAILURES.labels("event").inc()
        raise


async def record_principal_event(
    event: AuthEvent, principal: Principal, *, at: datetime, patient: str | None = None
) -> None:
    """An event a GraphQL request causes, recorded as the request's principal."""
    await record_event(
        event,
        Actor(principal.actor, principal.role.value),
        at=at,
        request_id=principal.request_id,
        ip=principal.ip,
        client=principal.client,
        patient=patient,
    )
