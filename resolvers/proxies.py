"""Proxy grants: a patient manages who acts for them; front desk records a grant for a patient
who asked in person. Both reach the patient through row access (a patient: their own record
only; front desk: its registration rows), so nobody grants access to a record they cannot
load. A proxy's reads appear in the patient's access log (resolvers/audit.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from api.admin import proxies
from api.admin.acting import Acting
from api.clock import SystemClock
from models import Patient, ProxyGrant
from models.people import NO_EXPIRY
from permissions.roles import Capability, ProxyScope
from resolvers.admin import clear
from schema import admin_types as t
from schema.context import RequestContext
from schema.errors import NotFound


def _grant(ctx: RequestContext, row: ProxyGrant, patient: Patient, now: datetime) -> t.ProxyGrant:
    expires = None if row.expires_at >= NO_EXPIRY else row.expires_at
    return t.ProxyGrant(
        row=row,
        subject=ctx.access.rows.subject(patient),
        id=strawberry.ID(row.public_id),
        patient=strawberry.ID(patient.public_id),
        grantee=strawberry.ID(row.grantee.public_id),
        grantee_username=row.grantee.username,
        scope=row.scope,
        expires_at=expires,
        revoked_at=row.revoked_at,
        created_at=row.created_at,
        active=row.revoked_at is None and row.expires_at > now,
        recorded_by_staff=row.reason is not None,
    )


async def _own_record(ctx: RequestContext) -> Patient:
    user_pk = ctx.access.person(Capability.OWN_PROXIES)
    visible = await ctx.access.rows.patients()
    own = await visible.filter(user_id=user_pk).first()
    if own is None:
        raise NotFound("Your account has no patient record")
    return own


async def my_proxy_grants(ctx: RequestContext) -> list[t.ProxyGrant]:
    own = await _own_record(ctx)
    now = datetime.now(UTC)
    return [_grant(ctx, row, own, now) for row in await proxies.grants(own.id)]


async def grant_proxy(
    ctx: RequestContext, username: str, scope: ProxyScope, expires_at: datetime | None
) -> t.ProxyGrant:
    own = await _own_record(ctx)
    row = await clear(
        proxies.grant(Acting.of(ctx.principal), own, username, scope, expires_at, SystemClock())
    )
    return _grant(ctx, row, own, datetime.now(UTC))


async def revoke_proxy(ctx: RequestContext, grant_id: str) -> bool:
    own = await _own_record(ctx)
    return await clear(proxies.revoke(Acting.of(ctx.principal), own, grant_id, SystemClock()))


async def record_proxy(
    ctx: RequestContext,
    patient_id: str,
    username: str,
    scope: ProxyScope,
    expires_at: datetime | None,
    reason: str,
) -> t.ProxyGrant:
    ctx.access.person(Capability.RECORD_PROXY)
    patient = (
        await ctx.access.rows.patient(patient_id) if Patient.is_public_id(patient_id) else None
    )
    if patient is None:
        raise NotFound()
    stated = await clear(_stated(reason))

    def seal(row: ProxyGrant) -> None:
        ctx.access.seal(row, reason=stated)

    row = await clear(
        proxies.grant(
            Acting.of(ctx.principal), patient, username, scope, expires_at, SystemClock(), seal
        )
    )
    return _grant(ctx, row, patient, datetime.now(UTC))


async def _stated(reason: str) -> str:
    return proxies.stated_reason(reason)
