"""Break-glass: a physician opens (and may close) time-limited emergency access to a patient
outside their care team. Reads under it are audited with purpose EMERGENCY (permissions/rows.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry

from audit.events import AuthEvent, record_principal_event
from crypto.blind_index import IndexKind, blind_index
from models import BreakGlassGrant, CareTeamAssignment, Patient
from permissions.policy import BREAK_GLASS_ROLES
from permissions.roles import Purpose
from permissions.rows import Subject
from schema import audit_types as t
from schema import types
from schema.context import RequestContext
from schema.errors import BadInput, Forbidden, NotFound

MIN_REASON = 15
MAX_REASON = 2000


def _physician_pk(ctx: RequestContext) -> int:
    principal = ctx.principal
    if (
        principal.role not in BREAK_GLASS_ROLES
        or principal.user_pk is None
        # Emergency access is a clinician's own act: an OAuth2 app acting for them may not.
        or principal.scopes is not None
    ):
        raise Forbidden("Only physicians may open emergency access")
    return principal.user_pk


def _duration(ctx: RequestContext, minutes: int | None) -> timedelta:
    limit = ctx.safeguards.break_glass_max_minutes
    chosen = ctx.safeguards.break_glass_minutes if minutes is None else minutes
    if not 1 <= chosen <= limit:
        raise BadInput(f"minutes must be between 1 and {limit}")
    return timedelta(minutes=chosen)


def _reason(text: str) -> str:
    reason = text.strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise BadInput(f"A reason of {MIN_REASON} to {MAX_REASON} characters is required")
    return reason


async def open_emergency_access(
    ctx: RequestContext, mrn: str, reason: str, minutes: int | None
) -> t.EmergencyAccess:
    user_pk = _physician_pk(ctx)
    stated, duration = _reason(reason), _duration(ctx, minutes)
    keyring = ctx.phi.keyring
    patient = await Patient.filter(mrn_index=blind_index(keyring, IndexKind.MRN, mrn)).first()
    if patient is None:
        raise NotFound()
    if await CareTeamAssignment.exists(
        user_id=user_pk, patient_id=patient.id, ended_at__isnull=True
    ):
        raise BadInput("This patient is in your care already")
    now = datetime.now(UTC)
    await record_principal_event(
        AuthEvent.BREAK_GLASS_OPENED, ctx.principal, at=now, patient=patient.public_id
    )
    grant = BreakGlassGrant(
        user_id=user_pk, patient_id=patient.id, opened_at=now, expires_at=now + duration
    )
    grant.seal(keyring, reason=stated)
    await grant.save()
    node = types.Patient(
        id=strawberry.ID(patient.public_id),
        row=patient,
        subject=Subject(patient.public_id, purpose=Purpose.EMERGENCY),
    )
    return t.EmergencyAccess(
        grant_id=strawberry.ID(grant.public_id), expires_at=grant.expires_at, patient=node
    )


async def close_emergency_access(ctx: RequestContext, grant_id: str) -> bool:
    """Ends the caller's own grant early. False if it was closed or had expired already."""
    user_pk = _physician_pk(ctx)
    if not BreakGlassGrant.is_public_id(grant_id):
        raise NotFound()
    grant = (
        await BreakGlassGrant.filter(public_id=grant_id, user_id=user_pk)
        .select_related("patient")
        .first()
    )
    if grant is None:
        raise NotFound()
    now = datetime.now(UTC)
    if grant.closed_at is not None or grant.expires_at <= now:
        return False
    await record_principal_event(
        AuthEvent.BREAK_GLASS_CLOSED, ctx.principal, at=now, patient=grant.patient.public_id
    )
    await BreakGlassGrant.filter(id=grant.id).update(closed_at=now)
    return True
