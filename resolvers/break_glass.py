"""Break-glass: a physician opens (and may close) time-limited emergency access to a patient
outside their care team. Reads under it are audited with purpose EMERGENCY (permissions/rows.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import strawberry

from audit.events import AuthEvent, record_principal_event
from models import BreakGlassGrant, CareTeamAssignment
from permissions.roles import Capability
from schema import audit_types as t
from schema import types
from schema.context import RequestContext
from schema.errors import BadInput, NotFound

MIN_REASON = 15
MAX_REASON = 2000


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
    user_pk = ctx.access.person(Capability.BREAK_GLASS)
    stated, duration = _reason(reason), _duration(ctx, minutes)
    patient = await ctx.access.emergency_patient("Patient.mrn", mrn)
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
    ctx.access.seal(grant, reason=stated)
    await grant.save()
    node = types.Patient(
        id=strawberry.ID(patient.public_id), row=patient, subject=ctx.access.rows.granted(patient)
    )
    return t.EmergencyAccess(
        grant_id=strawberry.ID(grant.public_id), expires_at=grant.expires_at, patient=node
    )


async def close_emergency_access(ctx: RequestContext, grant_id: str) -> bool:
    """Ends the caller's own grant early. False if it was closed or had expired already."""
    user_pk = ctx.access.person(Capability.BREAK_GLASS)
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
