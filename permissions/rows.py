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

from models import CareTeamAssignment, Encounter, Patient, ProxyGrant
from permissions.policy import PROXY_CATEGORIES, ROW_SCOPE, RowScope
from permissions.principal import Principal
from permissions.pseudonyms import ReportScope
from permissions.reports import reports_only
from permissions.roles import Category, ProxyScope
from permissions.scopes import scope_categories, sees_patients


@dataclass(frozen=True, slots=True)
class Subject:
    """The patient a PHI value belongs to, and the categories this access is limited to."""

    patient_id: str
    categories: frozenset[Category] | None = None
    """None: no limit beyond the role policy. A proxy grant limits to its scope, an OAuth2
    token to its scopes' categories (both: the intersection)."""
    report: ReportScope | None = None
    """Set when read through a report: every field is de-identified, ids are pseudonyms."""

    def reference(self, public_id: str) -> str:
        """The id to show for a record of this subject: its pseudonym in a report."""
        return public_id if self.report is None else self.report.pseudonym(public_id)


class RowAccess:
    """Per-request row access for one principal. Proxy grants are read once per request."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._proxy: dict[int, frozenset[Category]] | None = None
        self._scope_categories = (
            None if principal.scopes is None else scope_categories(principal.scopes)
        )

    async def patients(self) -> QuerySet[Patient]:
        if reports_only(self.principal) or not sees_patients(self.principal.scopes):
            # Researchers and report-scoped clients get their data through `report` only; a
            # token without `patient.read` sees no patients at all.
            return Patient.filter(id__in=[])
        return await self.role_scope()

    async def role_scope(self) -> QuerySet[Patient]:
        """The patients of the principal's row scope (what staff reports cover, too)."""
        principal = self.principal
        scope = principal.row_scope or ROW_SCOPE[principal.role]
        if scope is RowScope.ALL:
            return Patient.all()
        key_of, query = _QUERIES.get(scope, (_nobody, _no_query))
        key = key_of(principal)
        return Patient.filter(id__in=[]) if key is None else await query(self, key)

    def subject(self, patient: Patient) -> Subject:
        categories = None
        if self._proxy is not None and patient.user_id != self.principal.user_pk:  # type: ignore[attr-defined]
            categories = self._proxy.get(patient.id, frozenset())
        if self._scope_categories is not None:
            # An OAuth2 token sees no category its scopes do not name, whatever else allows it.
            categories = (
                self._scope_categories
                if categories is None
                else categories & self._scope_categories
            )
        return Subject(patient.public_id, categories)

    async def _care_team(self, user_pk: int) -> QuerySet[Patient]:
        assigned = CareTeamAssignment.filter(user_id=user_pk, ended_at__isnull=True)
        return Patient.filter(id__in=Subquery(assigned.values("patient_id")))

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

    async def _organization(self, organization_pk: int) -> QuerySet[Patient]:
        return Patient.filter(organization_id=organization_pk)


Query = Callable[[RowAccess, int], Awaitable[QuerySet[Patient]]]


def _user(principal: Principal) -> int | None:
    return principal.user_pk


def _org(principal: Principal) -> int | None:
    return principal.organization_pk


def _nobody(_: Principal) -> int | None:
    return None


async def _no_query(_: RowAccess, __: int) -> QuerySet[Patient]:
    return Patient.filter(id__in=[])


_QUERIES: dict[RowScope, tuple[Callable[[Principal], int | None], Query]] = {
    # scope: (the principal's key it is decided by, the query)
    RowScope.CARE_TEAM: (_user, RowAccess._care_team),
    RowScope.WITH_ENCOUNTERS: (_user, RowAccess._with_encounters),
    RowScope.SELF_AND_PROXY: (_user, RowAccess._self_and_proxy),
    RowScope.ORGANIZATION: (_org, RowAccess._organization),
}
