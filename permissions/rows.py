"""Row access: which patients a principal may load, and on what basis.

A patient outside the principal's rows is never loaded, so callers cannot tell it from one that
does not exist. Lists and counts are built on the same query, so they never reveal hidden rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from models import BreakGlassGrant, CareTeamAssignment, Encounter, Patient, ProxyGrant
from models.compiled import CompiledQueries
from permissions.counting import bounded_count
from permissions.policy import CAPABILITIES, PROXY_CATEGORIES, ROW_SCOPE, RowScope
from permissions.principal import Principal
from permissions.pseudonyms import ReportScope
from permissions.reports import reports_only
from permissions.roles import Capability, Category, ProxyScope, Purpose
from permissions.scopes import scope_categories, sees_patients
from permissions.smart import confined_to_launch


@dataclass(frozen=True, slots=True)
class Subject:
    """The patient a PHI value belongs to, and the categories this access is limited to."""

    patient_id: str
    categories: frozenset[Category] | None = None
    """None: no limit beyond the role policy. A proxy grant limits to its scope, an OAuth2
    token to its scopes' categories (both: the intersection)."""
    report: ReportScope | None = None
    """Set when read through a report: every field is de-identified, ids are pseudonyms."""
    purpose: Purpose | None = None
    """None: the principal's purpose. Access under a break-glass grant: EMERGENCY."""

    def reference(self, public_id: str) -> str:
        """The id to show for a record of this subject: its pseudonym in a report."""
        return public_id if self.report is None else self.report.pseudonym(public_id)


class RowAccess:
    """Per-request row access for one principal. Proxy grants are read once per request."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._proxy: dict[int, frozenset[Category]] | None = None
        scopes, person = principal.scopes, principal.user_pk is not None
        self.scope_categories = None if scopes is None else scope_categories(scopes, person=person)
        """What an OAuth2 token's scopes limit every access to; None for a session."""
        self._launch: int | None = None
        if scopes is not None and confined_to_launch(scopes):
            # No launch patient (a token minted without one) means no rows: fail closed.
            self._launch = principal.launch_patient_pk or 0
        self._emergency: frozenset[int] | None = None
        self._emergency_read: asyncio.Future[frozenset[int]] | None = None

    async def patients(self) -> QuerySet[Patient]:
        if not self._identified():
            return Patient.filter(id__in=[])
        return await self.role_scope()

    async def count(self) -> tuple[int, bool]:
        """`totalCount` of `patients()` (permissions/counting.py)."""
        team = await self._care_team_only()
        if team is not None:
            return await bounded_count(_assignments(team), "patient_id")
        return await bounded_count(await self.patients())

    async def first(self, after: str | None, size: int) -> list[Patient]:
        """The first `size` of `patients()` in public id order, after public id `after`."""
        team = await self._care_team_only()
        if team is None:
            return await first_of(await self.patients(), after, size)
        assigned = _assignments(team).order_by("patient_public_id")
        if after is not None:
            assigned = assigned.filter(patient_public_id__gt=after)
        ids = [pk for (pk,) in await assigned.limit(size).values_list("patient_id")]
        found = {row.id: row for row in await Patient.filter(id__in=ids)}
        return [found[pk] for pk in ids]

    async def _care_team_only(self) -> int | None:
        """The user whose care team is exactly the principal's patients, if it is (no
        break-glass patient beside it, no SMART launch narrowing it). Then the assignments
        alone count and order them (each names one patient, with its public id): looking each
        patient up as well would cost a thousand index descents a page at a million
        patients."""
        scope, key = self._scope_key()
        if scope is not RowScope.CARE_TEAM or key is None or self._launch is not None:
            return None
        if not self._identified() or await self._emergency_patients(key):
            return None
        return key

    async def role_scope(self) -> QuerySet[Patient]:
        """The patients of the principal's row scope (what staff reports cover, too), narrowed
        to the launch patient for a SMART token confined to it."""
        rows = await self._role_rows()
        return rows if self._launch is None else rows.filter(id=self._launch)

    async def _role_rows(self) -> QuerySet[Patient]:
        scope, key = self._scope_key()
        if key is None:
            return Patient.filter(id__in=[])
        if scope is RowScope.CARE_TEAM and (emergency := await self._emergency_patients(key)):
            return Patient.filter(Q(id__in=Subquery(_assigned(key))) | Q(id__in=list(emergency)))
        pure = _PURE.get(scope)
        return pure(key) if pure is not None else await self._self_and_proxy(key)

    async def patient(self, public_id: str) -> Patient | None:
        """One patient within the principal's rows: the lookup every single-patient request
        makes, so its query is compiled once per scope (models/compiled.py). A care team's
        patient is found without reading break-glass grants, which never cover one (a grant
        is for a patient outside the team): only a miss asks whether a grant reaches it."""
        if not self._identified():
            return None
        scope, key = self._scope_key()
        if key is None:
            return None
        pure = _PURE.get(scope)
        if pure is not None:

            def build(values: Mapping[str, Any]) -> QuerySet[Patient]:
                return pure(values["key"]).filter(public_id=values["public_id"]).limit(1)

            found = await _BY_PUBLIC_ID.select(scope, build, key=key, public_id=public_id)
            if found:
                return found[0] if self._launch in (None, found[0].id) else None
            if scope is not RowScope.CARE_TEAM or not await self._emergency_patients(key):
                return None
        return await (await self.role_scope()).filter(public_id=public_id).first()

    def _identified(self) -> bool:
        # Researchers and report-scoped clients get their data through `report` only; a token
        # without `patient.read` sees no patients at all.
        return not reports_only(self.principal) and sees_patients(self.principal.scopes)

    def _scope_key(self) -> tuple[RowScope, int | None]:
        """The row scope, and the key it is decided by (None: no rows at all)."""
        principal = self.principal
        scope = principal.row_scope or ROW_SCOPE[principal.role]
        return scope, _KEY_OF.get(scope, _nobody)(principal)

    def subject(self, patient: Patient) -> Subject:
        categories = None
        purpose = None
        if self._proxy is not None and patient.user_id != self.principal.user_pk:  # type: ignore[attr-defined]
            categories = self._proxy.get(patient.id, frozenset())
        elif self._emergency and patient.id in self._emergency:
            purpose = Purpose.EMERGENCY
        return Subject(patient.public_id, self._within_scopes(categories), purpose=purpose)

    def _within_scopes(self, categories: frozenset[Category] | None) -> frozenset[Category] | None:
        # An OAuth2 token sees no category its scopes do not name, whatever else allows it.
        scoped = self.scope_categories
        if scoped is None:
            return categories
        return scoped if categories is None else categories & scoped

    def granted(self, patient: Patient) -> Subject:
        """A patient the caller has just opened a break-glass grant to, in this request."""
        return Subject(patient.public_id, self._within_scopes(None), purpose=Purpose.EMERGENCY)

    def report_subject(self, patient: Patient, report: ReportScope) -> Subject:
        return Subject(patient.public_id, self.scope_categories, report=report)

    def reviewed(self, patient_id: str) -> Subject:
        """The subject of a record an auditor reviews (a break-glass grant's reason)."""
        return Subject(patient_id, self.scope_categories)

    async def where(
        self, readable: Callable[[frozenset[Category] | None], bool]
    ) -> QuerySet[Patient] | None:
        """The principal's patients on which `readable` holds for the categories their
        access is limited to; None if it holds on none of them. Only a proxy's rows differ
        from one another: each grant has its own scope."""
        patients = await self.patients()
        if self.principal.user_pk is not None and self._proxy is not None:
            own = readable(self._within_scopes(None))
            granted = [
                pk for pk, cats in self._proxy.items() if readable(self._within_scopes(cats))
            ]
            if not own and not granted:
                return None
            mine = Q(user_id=self.principal.user_pk) if own else Q(id__in=[])
            return patients.filter(mine | Q(id__in=granted))
        return patients if readable(self._within_scopes(None)) else None

    async def _emergency_patients(self, user_pk: int) -> frozenset[int]:
        """Patients outside the care team the caller reaches through a live break-glass grant;
        read once per request (compiled: every physician request asks), and once only when
        several fields of the request ask at the same time (`a: patients ... b: patients`).
        The read is shielded: graphql-core cancels a field's resolver when a sibling fails, and
        that must not cancel the read under the other fields waiting for it."""
        if self._emergency is None:
            if self._emergency_read is None:
                self._emergency_read = asyncio.ensure_future(self._read_emergency(user_pk))
            self._emergency = await asyncio.shield(self._emergency_read)
        return self._emergency

    async def _read_emergency(self, user_pk: int) -> frozenset[int]:
        if self.principal.role not in CAPABILITIES[Capability.BREAK_GLASS].roles:
            return frozenset()
        now = datetime.now(UTC)
        grants = await _GRANTS.select("open", _open_grants, user=user_pk)
        return frozenset(g.patient_id for g in grants if g.expires_at > now)  # type: ignore[attr-defined]

    async def _self_and_proxy(self, user_pk: int) -> QuerySet[Patient]:
        if self._proxy is None:
            grants = await ProxyGrant.filter(
                grantee_id=user_pk, revoked_at__isnull=True, expires_at__gt=datetime.now(UTC)
            ).values_list("patient_id", "scope")
            proxy: dict[int, frozenset[Category]] = {}
            for patient_pk, scope in grants:
                proxy[patient_pk] = (
                    proxy.get(patient_pk, frozenset()) | PROXY_CATEGORIES[ProxyScope(scope)]
                )
            self._proxy = proxy
        return Patient.filter(Q(user_id=user_pk) | Q(id__in=list(self._proxy)))


async def first_of(patients: QuerySet[Patient], after: str | None, size: int) -> list[Patient]:
    """The first `size` of `patients` in public id order, after public id `after`."""
    ordered = patients.order_by("public_id")
    if after is not None:
        ordered = ordered.filter(public_id__gt=after)
    return await ordered.limit(size)


def _assignments(user_pk: int) -> QuerySet[CareTeamAssignment]:
    return CareTeamAssignment.filter(user_id=user_pk, ended_at__isnull=True)


def _assigned(user_pk: int) -> QuerySet[CareTeamAssignment]:
    return _assignments(user_pk).values("patient_id")  # type: ignore[return-value]


def _care_team(user_pk: int) -> QuerySet[Patient]:
    return Patient.filter(id__in=Subquery(_assigned(user_pk)))


def _open_grants(values: Mapping[str, Any]) -> QuerySet[BreakGlassGrant]:
    # Expiry is checked by the caller: a timestamp in the query would stop it compiling.
    user_pk = values["user"]
    return BreakGlassGrant.filter(user_id=user_pk, closed_at__isnull=True).exclude(
        patient_id__in=Subquery(_assigned(user_pk))
    )


def _with_encounters(organization_pk: int) -> QuerySet[Patient]:
    return _organization(organization_pk).filter(
        id__in=Subquery(Encounter.all().values("patient_id"))
    )


def _organization(organization_pk: int) -> QuerySet[Patient]:
    return Patient.filter(organization_id=organization_pk)


def _user(principal: Principal) -> int | None:
    return principal.user_pk


def _org(principal: Principal) -> int | None:
    return principal.organization_pk


def _nobody(_: Principal) -> int | None:
    return None


_KEY_OF: Mapping[RowScope, Callable[[Principal], int | None]] = MappingProxyType(
    {
        RowScope.CARE_TEAM: _user,
        RowScope.WITH_ENCOUNTERS: _org,
        RowScope.SELF_AND_PROXY: _user,
        RowScope.ORGANIZATION: _org,
    }
)
"""What each row scope is decided by; a scope not listed (NONE) has no rows."""

_PURE: Mapping[RowScope, Callable[[int], QuerySet[Patient]]] = MappingProxyType(
    {
        RowScope.CARE_TEAM: _care_team,
        RowScope.WITH_ENCOUNTERS: _with_encounters,
        RowScope.ORGANIZATION: _organization,
    }
)
"""Scopes whose query is a function of their key alone (no I/O): these compile. The proxy
scope reads the caller's grants first, so it runs through the ORM."""

_BY_PUBLIC_ID = CompiledQueries(Patient)
_GRANTS = CompiledQueries(BreakGlassGrant)
