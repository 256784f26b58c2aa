"""Proxy grants: a patient lets another portal account (a parent, a caregiver) see part of
their record; front desk may record one for a patient who asks in person, saying why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tortoise.transactions import in_transaction

from api.admin.acting import Acting, AdminError, Unknown
from api.clock import Clock
from audit.events import AdminEvent
from models import Patient, ProxyGrant, User
from models.people import NO_EXPIRY
from permissions.roles import ProxyScope, Role

MIN_REASON = 15
MAX_REASON = 2000


def stated_reason(text: str | None) -> str:
    reason = (text or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise AdminError(f"A reason of {MIN_REASON} to {MAX_REASON} characters is required")
    return reason


async def grant(
    acting: Acting,
    patient: Patient,
    grantee_username: str,
    scope: ProxyScope,
    expires_at: datetime | None,
    clock: Clock,
    seal_reason: Callable[[ProxyGrant], None] | None = None,
) -> ProxyGrant:
    """`seal_reason` seals the stated reason into the new row (staff only)."""
    now = clock.now()
    if expires_at is not None and expires_at <= now:
        raise AdminError("The expiry must be in the future")
    grantee = await User.get_or_none(username=grantee_username, is_active=True)
    # Proxies read through the patient portal: only a patient account's rows include grants.
    if grantee is None or grantee.role is not Role.PATIENT:
        raise AdminError("No active patient portal account has that username")
    if grantee.id == patient.user_id:  # type: ignore[attr-defined]
        raise AdminError("A patient cannot be their own proxy")
    row = ProxyGrant(
        patient_id=patient.id,
        grantee_id=grantee.id,
        scope=scope,
        expires_at=expires_at or NO_EXPIRY,
        granted_by_id=acting.user_pk,
    )
    if seal_reason is not None:
        seal_reason(row)
    async with in_transaction():
        await acting.record(
            AdminEvent.PROXY_GRANTED, now, grantee.public_id, patient=patient.public_id,
            detail=f"grant={row.public_id} scope={scope.value}",
        )  # fmt: skip
        await row.save()
    row.grantee = grantee
    return row


async def grants(patient_pk: int) -> list[ProxyGrant]:
    """Every grant of the patient's record, newest first, revoked and expired ones too."""
    return await ProxyGrant.filter(patient_id=patient_pk).select_related("grantee").order_by("-id")


async def revoke(acting: Acting, patient: Patient, grant_id: str, clock: Clock) -> bool:
    """False if the grant was revoked already; Unknown if it is not one of this patient's."""
    found = None
    if ProxyGrant.is_public_id(grant_id):
        found = await ProxyGrant.get_or_none(public_id=grant_id, patient_id=patient.id)
    if found is None:
        raise Unknown("No such proxy grant")
    if found.revoked_at is not None:
        return False
    now = clock.now()
    grantee = await User.get(id=found.grantee_id)  # type: ignore[attr-defined]
    async with in_transaction():
        await acting.record(
            AdminEvent.PROXY_REVOKED, now, grantee.public_id, patient=patient.public_id,
            detail=f"grant={found.public_id}",
        )  # fmt: skip
        await ProxyGrant.filter(id=found.id).update(revoked_at=now)
    return True
