"""Organizations are tenants: which roles work inside one.

Front desk, billing and a client see their organization's patients (permissions/rows.py), a
clinician's care team is assigned within theirs (api/admin/care_teams.py), and a researcher's
reports cover theirs (permissions/reports.py). An account of such a role in no organization
would reach no patient at all, so it is refused when created or given the role."""

from __future__ import annotations

from permissions.policy import ROW_SCOPE, RowScope
from permissions.reports import REPORT_RULES, ReportRows
from permissions.roles import Role

BOUNDED = frozenset({RowScope.CARE_TEAM, RowScope.ORGANIZATION, RowScope.WITH_ENCOUNTERS})
"""Row scopes whose patients are all of the caller's organization."""


def needs_organization(role: Role) -> bool:
    rule = REPORT_RULES[role]
    return ROW_SCOPE[role] in BOUNDED or (rule is not None and rule.rows is ReportRows.ORGANIZATION)
