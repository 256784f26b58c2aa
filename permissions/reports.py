"""Who may run de-identified reports, over which patients, with which categories: as data.

Staff reports never reach further than the role's identified access: the same patients (its row
access) and only the categories it may read (de-identified). Anything wider would hand a role
de-identified data it can re-identify from what it sees identified (a front desk clerk who knows
every patient's birth date and ZIP could read diagnoses off a report). Researchers see no
identified data at all, so their reports cover their organization's patients with every category
de-identified, and they reach nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from permissions.principal import Principal
from permissions.roles import Role
from permissions.tables import complete

REPORTS_SCOPE = "reports.read"
"""The OAuth2 scope of report access. A client holding only this scope is reports-only."""


class ReportRows(StrEnum):
    """Which patients a report covers."""

    ORGANIZATION = "all patients of the caller's organization"
    ROW_ACCESS = "its row access (as identified)"


class ReportCategories(StrEnum):
    """Which PHI categories a report shows, de-identified; the others are denied."""

    ALL = "every category"
    WITHIN_POLICY = "those its role policy shows"


@dataclass(frozen=True, slots=True)
class ReportRule:
    rows: ReportRows
    categories: ReportCategories
    reports_only: bool
    """True: every non-report field gives this principal nothing, as for a role with no rows."""


_STAFF = ReportRule(ReportRows.ROW_ACCESS, ReportCategories.WITHIN_POLICY, reports_only=False)
_RESEARCH = ReportRule(ReportRows.ORGANIZATION, ReportCategories.ALL, reports_only=True)

REPORT_RULES: Mapping[Role, ReportRule | None] = complete(
    "REPORT_RULES",
    {
        Role.PHYSICIAN: _STAFF,
        Role.NURSE: _STAFF,
        Role.FRONT_DESK: _STAFF,
        Role.BILLING: _STAFF,
        Role.RESEARCHER: _RESEARCH,
        # A patient reads their own record identified; auditors and admins read no PHI at all.
        Role.PATIENT: None,
        Role.AUDITOR: None,
        Role.ADMIN: None,
    },
    Role,
)
"""None: may not run reports."""


def report_rule(principal: Principal) -> ReportRule | None:
    """Which report rule applies to a principal (permissions/decisions.py decides with it).

    OAuth2 tokens narrow this by scope: without `REPORTS_SCOPE` a token runs no report, and a
    token whose only scope is `REPORTS_SCOPE` is reports-only whatever its role.
    """
    rule = REPORT_RULES[principal.role]
    scopes = principal.scopes
    if rule is None or scopes is None:
        return rule
    if REPORTS_SCOPE not in scopes:
        return None
    return replace(rule, reports_only=True) if scopes == {REPORTS_SCOPE} else rule


def reports_only(principal: Principal) -> bool:
    rule = report_rule(principal)
    return rule is not None and rule.reports_only


def report_policy_markdown() -> str:
    """The table above as Markdown, for docs/policy.md (a test keeps the two in step)."""
    lines = [
        "| role | may run reports | patients in reports | categories in reports | other fields |",
        "|---|---|---|---|---|",
    ]
    for role, rule in REPORT_RULES.items():
        if rule is None:
            cells = ["no", "-", "-", "as its role policy"]
        else:
            other = "nothing (reports only)" if rule.reports_only else "as its role policy"
            cells = ["yes", rule.rows.value, rule.categories.value, other]
        lines.append(f"| `{role.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
