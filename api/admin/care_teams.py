"""Care-team assignments: the basis of a clinician's treatment access (permissions/rows.py
reads them on every request, so a change holds from the clinician's next request on)."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from api.admin.acting import Acting, AdminError, Unknown
from api.clock import Clock
from audit.events import AdminEvent
from models import CareTeamAssignment, Patient, User
from permissions.decisions import PatientRef
from permissions.policy import ROW_SCOPE, RowScope

CLINICAL_ROLES = frozenset(role for role, scope in ROW_SCOPE.items() if scope is RowScope.CARE_TEAM)


async def assign(
    acting: Acting, user: User, patient: PatientRef, clock: Clock
) -> CareTeamAssignment:
    if user.role not in CLINICAL_ROLES:
        names = ", ".join(sorted(r.value for r in CLINICAL_ROLES))
        raise AdminError(f"Only these roles join care teams: {names}")
    if not user.is_active:
        raise AdminError("This account is disabled")
    if user.organization_id != patient.organization_pk:  # type: ignore[attr-defined]
        raise AdminError("The patient is not in the clinician's organization")
    now = clock.now()
    async with in_transaction():
        row = await CareTeamAssignment.get_or_none(user_id=user.id, patient_id=patient.pk)
        if row is not None and row.ended_at is None:
            return row
        await acting.record(
            AdminEvent.CARE_TEAM_ASSIGNED, now, user.public_id, patient=patient.public_id
        )
        if row is None:
            return await CareTeamAssignment.create(
                user_id=user.id, patient_id=patient.pk, patient_public_id=patient.public_id
            )
        # One row per clinician and patient: a renewed assignment reopens it; the audit trail
        # keeps every period.
        await CareTeamAssignment.filter(id=row.id).update(started_at=now, ended_at=None)
        row.started_at, row.ended_at = now, None
        return row


async def remove(acting: Acting, user: User, patient_id: str, clock: Clock) -> bool:
    """False if the clinician was not on the patient's care team."""
    if not Patient.is_public_id(patient_id):
        raise Unknown("No such patient")
    now = clock.now()
    async with in_transaction():
        row = await CareTeamAssignment.filter(
            user_id=user.id, patient__public_id=patient_id, ended_at__isnull=True
        ).first()
        if row is None:
            return False
        await acting.record(AdminEvent.CARE_TEAM_REMOVED, now, user.public_id, patient=patient_id)
        await CareTeamAssignment.filter(id=row.id).update(ended_at=now)
    return True


async def assignments(user: User) -> list[tuple[str, datetime]]:
    """The clinician's current assignments, oldest first: (patient public id, since). Only
    identifiers are read; no sealed column is even loaded."""
    rows = (
        await CareTeamAssignment.filter(user_id=user.id, ended_at__isnull=True)
        .order_by("id")
        .values_list("patient__public_id", "started_at")
    )
    return [(str(public_id), since) for public_id, since in rows]
