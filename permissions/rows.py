"""Row access: which patients a principal may load, and on what basis.

A patient outside the principal's rows is never loaded, so callers cannot tell it from one that
does not exist. Lists and counts are built on the same query, so they never reveal hidden rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from models import BreakGlassGrant, CareTeamAssignment, Encounter, Patient, ProxyGrant
from permissions.policy import BREAK_GLASS_ROLES, PROXY_CATEGORIES, ROW_SCOPE, RowScope
from permissions.principal import Principal
from permissions.roles import Category, ProxyScope, Purpose


@dataclass(frozen=True, slots=True)
class Subject:
    """The patient a PHI value belongs to, and the categories this access is limited to."""

    patient_id: str
    categories: frozenset[Category] | None = None
    """None: no limit beyond the role policy. A proxy grant limits to its scope."""
    purpose: Purpose | None = None
    """None: the principal's purpose. Access under a break-glass grant: EMERGENCY."""


class RowAccess:
    """Per-request row access for one principal. Proxy grants are read once per request."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._proxy: dict[int, frozenset[Category]] | None = None
        self._emergency: frozenset[int] | None = None

    async def patients(self) -> QuerySet[Patient]:
        scope = ROW_SCOPE[self.principal.role]
        user_pk = self.principal.user_pk
        if scope is RowScope.ALL:
            return Patient.all()
        if user_pk is None or scope is RowScope.NONE:
            return Patient.filter(id__in=[])
        return await _QUERIES[scope](self, user_pk)

    def subject(self, patient: Patient) -> Subject:
        if self._proxy is not None and patient.user_id != self.principal.user_pk:  # type: ignore[attr-defined]
            return Subject(patient.public_id, self._proxy.get(patient.id, frozenset()))
        if self._emergency and patient.id in self._emergency:
            return Subject(patient.public_id, purpose=Purpose.EMERGENCY)
        return Subject(patient.public_id)

    async def _care_team(self, user_pk: int) -> QuerySet[Patient]:
        assigned = CareTeamAssignment.filter(user_id=user_pk, ended_at__isnull=True)
        team = Q(id__in=Subquery(assigned.values("patient_id")))
        if self.principal.role not in BREAK_GLASS_ROLES:
            return Patient.filter(team)
        if self._emergency is None:
            # Patients outside the care team reachable through a live break-glass grant.
            granted = await (
                BreakGlassGrant.filter(
                    user_id=user_pk, closed_at__isnull=True, expires_at__gt=datetime.now(UTC)
                )
                .exclude(patient_id__in=Subquery(assigned.values("patient_id")))
                .values_list("patient_id", flat=True)
            )
            self._emergency = frozenset(granted)  # type: ignore[arg-type]
        if not self._emergency:
            return Patient.filter(team)
        return Patient.filter(team | Q(id__in=list(self._emergency)))

    async def _with_encounters(self, _: int) -> QuerySet[Patient]:
        return Patient.filter(id__in=Subquery(Encounter.all().values("patient_id")))

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


_QUERIES: dict[RowScope, Callable[[RowAccess, int], Awaitable[QuerySet[Patient]]]] = {
    RowScope.CARE_TEAM: RowAccess._care_team,
    RowScope.WITH_ENCOUNTERS: RowAccess._with_encounters,
    RowScope.SELF_AND_PROXY: RowAccess._self_and_proxy,
}
