"""The audit trail for auditors, and a patient's accounting of disclosures."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from tortoise.expressions import Q

from audit.buffer import IDENTIFIED, PHI_ACCESS
from models import AuditEvent, BreakGlassGrant, Patient, User
from permissions.actions import WRITE_EVENTS
from permissions.roles import Capability, Decision, Purpose, Role
from permissions.rows import RowAccess
from resolvers.pages import connection, newest_first
from schema import audit_types as t
from schema.context import RequestContext


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _record(row: AuditEvent) -> t.AuditRecord:
    return t.AuditRecord(
        id=strawberry.ID(str(row.id)),
        at=row.at,
        request_id=row.request_id,
        event=row.event,
        actor=row.actor,
        role=row.role,
        client=row.client,
        purpose=Purpose(row.purpose),
        ip=row.ip,
        patient=row.patient,
        decision=Decision(row.decision) if row.decision else None,
        fields=[t.AccessedField(field=field, path=path) for field, path in row.accessed()],
    )


async def audit_events(
    ctx: RequestContext, where: t.AuditFilter | None, first: int, after: str | None
) -> t.AuditRecordConnection:
    ctx.access.require(Capability.AUDIT_TRAIL)
    where = where or t.AuditFilter()
    conditions = {
        "actor": where.actor,
        "patient": where.patient,
        "event": where.event,
        "decision": where.decision.value if where.decision else None,
        "purpose": where.purpose.value if where.purpose else None,
        "at__gte": _utc(where.from_) if where.from_ else None,
        "at__lt": _utc(where.to) if where.to else None,
    }
    query = AuditEvent.filter(**{k: v for k, v in conditions.items() if v is not None})
    return connection(await newest_first(query, first, after), _record)


async def my_access_log(
    ctx: RequestContext, first: int, after: str | None
) -> t.DisclosureConnection:
    """Who else read identified PHI of the caller's own record, or changed it. The patient's
    own reads and changes are left out; a proxy's are listed."""
    ctx.access.require(Capability.ACCESS_LOG)
    principal = ctx.principal
    own = await Patient.filter(user_id=principal.user_pk).first() if principal.user_pk else None
    query = AuditEvent.filter(
        patient=own.public_id if own else "",
        event__in=[PHI_ACCESS, *WRITE_EVENTS],
        decision__in=[d.value for d in IDENTIFIED],
    ).exclude(actor=principal.actor)
    page = await newest_first(query, first, after)
    # Staff login names help a patient recognise who it was; a patient account's is not shown.
    staff = dict(
        await User.filter(public_id__in={row.actor for row in page.rows})
        .exclude(role=Role.PATIENT)
        .values_list("public_id", "username")
    )
    return connection(
        page,
        lambda row: t.Disclosure(
            at=row.at,
            actor=row.actor,
            role=row.role,
            username=staff.get(row.actor),
            purpose=Purpose(row.purpose),
            fields=list(dict.fromkeys(field for field, _ in row.accessed())),
            action=row.event,
        ),
    )


def _grant(rows: RowAccess, row: BreakGlassGrant, now: datetime) -> t.BreakGlassGrant:
    patient_id = row.patient.public_id
    return t.BreakGlassGrant(
        row=row,
        subject=rows.reviewed(patient_id),
        id=strawberry.ID(row.public_id),
        physician=row.user.public_id,
        physician_username=row.user.username,
        patient=patient_id,
        opened_at=row.opened_at,
        expires_at=row.expires_at,
        closed_at=row.closed_at,
        open=row.closed_at is None and row.expires_at > now,
    )


async def break_glass_grants(
    ctx: RequestContext, open_: bool | None, first: int, after: str | None
) -> t.BreakGlassGrantConnection:
    ctx.access.require(Capability.AUDIT_TRAIL)
    now = datetime.now(UTC)
    query = BreakGlassGrant.all().select_related("user", "patient")
    if open_ is True:
        query = query.filter(closed_at__isnull=True, expires_at__gt=now)
    elif open_ is False:
        query = query.filter(Q(closed_at__isnull=False) | Q(expires_at__lte=now))
    rows = ctx.access.rows
    return connection(await newest_first(query, first, after), lambda row: _grant(rows, row, now))
