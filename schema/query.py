"""The query root."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import admin, proxies
from resolvers import audit as audit_resolvers
from resolvers import patients as patient_resolvers
from schema import admin_types, audit_types, types
from schema.field_access import FieldAccess, field_access
from schema.invariants import rows
from schema.phi import PhiRole
from schema.report import Report, open_report


@strawberry.type
class Query:
    @strawberry.field(
        description="Any object by its opaque id, if the caller may see it.",
        metadata=rows("the caller's row access"),
    )
    async def node(self, info: Info[Any, None], id: strawberry.ID) -> types.Node | None:
        return await patient_resolvers.node(info.context, id)

    @strawberry.field(
        description="One patient. NOT_FOUND whether absent or not visible.",
        metadata=rows("the caller's row access"),
    )
    async def patient(self, info: Info[Any, None], id: strawberry.ID) -> types.Patient | None:
        return await patient_resolvers.patient(info.context, id)

    @strawberry.field(
        description="Patients visible to the caller, ordered by id, 100 at most.",
        metadata=rows("the caller's row access"),
    )
    async def patients(
        self,
        info: Info[Any, None],
        first: int = 20,
        after: str | None = None,
        mrn: str | None = None,
    ) -> types.PatientConnection:
        return await patient_resolvers.patients(info.context, first, after, mrn, str(info.path.key))

    @strawberry.field(
        description=(
            "Every @phi field and what the caller may do with it (read, masked, in reports, "
            "write): select only what you will be given. A proxy grant narrows one patient's "
            "fields further."
        )
    )
    def my_field_access(self, info: Info[Any, None]) -> list[FieldAccess]:
        return field_access(info.context.access)

    @strawberry.field(
        description="De-identified reports. FORBIDDEN for roles that may not run reports."
    )
    def report(self, info: Info[Any, None]) -> Report | None:
        return open_report(info.context)

    @strawberry.field(description="Auditors: audit records, newest first, 100 at most per page.")
    async def audit_events(
        self,
        info: Info[Any, None],
        filter: audit_types.AuditFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> audit_types.AuditRecordConnection:
        return await audit_resolvers.audit_events(info.context, filter, first, after)

    @strawberry.field(description="Patients: who else read your record, when and why.")
    async def my_access_log(
        self, info: Info[Any, None], first: int = 20, after: str | None = None
    ) -> audit_types.DisclosureConnection:
        return await audit_resolvers.my_access_log(info.context, first, after)

    @strawberry.field(
        description="Auditors: break-glass grants for review, newest first.",
        metadata=rows("the audit trail capability"),
    )
    async def break_glass_grants(
        self,
        info: Info[Any, None],
        open: bool | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> audit_types.BreakGlassGrantConnection:
        return await audit_resolvers.break_glass_grants(info.context, open, first, after)

    # Administration (admins: no PHI, identifiers only) and a patient's proxy grants.

    @strawberry.field(description="Admins: accounts, newest first, 100 at most per page.")
    async def accounts(
        self,
        info: Info[Any, None],
        role: PhiRole | None = None,  # type: ignore[valid-type]
        active: bool | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> admin_types.AccountConnection:
        return await admin.list_accounts(info.context, role, active, first, after)

    @strawberry.field(description="Admins: one account by public id.")
    async def account(self, info: Info[Any, None], id: strawberry.ID) -> admin_types.Account:
        return await admin.one_account(info.context, id)

    @strawberry.field(description="Admins: every organization.")
    async def organizations(self, info: Info[Any, None]) -> list[admin_types.Organization]:
        return await admin.list_organizations(info.context)

    @strawberry.field(description="Admins: a clinician's current care-team patients, by id.")
    async def care_team(
        self, info: Info[Any, None], clinician: strawberry.ID
    ) -> list[admin_types.CareTeamAssignment]:
        return await admin.care_team(info.context, clinician)

    @strawberry.field(description="Admins: OAuth2 clients (secrets are never shown again).")
    async def oauth_clients(self, info: Info[Any, None]) -> list[admin_types.OAuthClient]:
        return await admin.oauth_clients(info.context)

    @strawberry.field(
        description="Patients: who you let act for you, newest first, revoked ones too.",
        metadata=rows("the caller's own record"),
    )
    async def my_proxy_grants(self, info: Info[Any, None]) -> list[admin_types.ProxyGrant]:
        return await proxies.my_proxy_grants(info.context)
