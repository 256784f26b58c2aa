"""Who may run de-identified reports, over which patients, with which categories: as data.

Staff reports never reach further than the role's identified access: the same patients (its row
access) and only the categories it may read (de-identified). Anything wider would hand a role
de-identified data it can re-identify from what it sees identified (a front desk clerk who knows
every patient's birth date and ZIP could read diagnoses off a report). Researchers see no
identified data at all, so their reports cover their organization's patients with every category
de-identified, and they reach nothing else.

Row-level pages are offered only to a caller who reads the same rows identified. De-identified
rows stay unique on their remaining attributes (birth year, ZIP3, diagnoses and their years), so
they join across reports whatever the pseudonyms, and they count every cell small-cell
suppression withholds from the aggregates. For a caller who sees those rows identified anyway
that gives nothing away; for everyone else suppressed aggregates are the whole report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from permissions.principal import Principal
from permissions.roles import Role
from permissions.scopes import sees_patients
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


class ReportPages(StrEnum):
    """Whether a report offers row-level pages (`report.patients`) besides aggregates."""

    OFFERED = "yes, to a caller who reads them identified"
    WITHHELD = "no: aggregates only, small cells suppressed"


@dataclass(frozen=True, slots=True)
class ReportRule:
    rows: ReportRows
    categories: ReportCategories
    reports_only: bool
    """True: every non-report field gives this principal nothing, as for a role with no rows."""
    pages: ReportPages

    def __post_init__(self) -> None:
        # Rows beyond the identified view would undo the aggregates' suppression: refuse such a
        # rule when the policy is imported, not on the first report that would leak.
        identified = (self.rows, self.categories, self.reports_only) == (
            ReportRows.ROW_ACCESS, ReportCategories.WITHIN_POLICY, False
        )  # fmt: skip
        if self.pages is ReportPages.OFFERED and not identified:
            raise RuntimeError("row-level report pages reach beyond the identified view")


_STAFF = ReportRule(
    ReportRows.ROW_ACCESS, ReportCategories.WITHIN_POLICY, False, ReportPages.OFFERED
)
_RESEARCH = ReportRule(ReportRows.ORGANIZATION, ReportCategories.ALL, True, ReportPages.WITHHELD)

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

    OAuth2 tokens narrow this by scope: without `REPORTS_SCOPE` a token runs no report; a
    token whose only scope is `REPORTS_SCOPE` is reports-only whatever its role; and a token
    that reads no patient identified (reports-only, or without `patient.read`) gets no pages.
    """
    rule = REPORT_RULES[principal.role]
    scopes = principal.scopes
    if rule is None or scopes is None:
        return rule
    if REPORTS_SCOPE not in scopes:
        return None
    if scopes == {REPORTS_SCOPE}:
        return replace(rule, reports_only=True, pages=ReportPages.WITHHELD)
    return rule if sees_patients(scopes) else replace(rule, pages=ReportPages.WITHHELD)


def reports_only(principal: Principal) -> bool:
    rule = report_rule(principal)
    return rule is not None and rule.reports_only


def report_policy_markdown() -> str:
    """The table above as Markdown, for docs/policy.md (a test keeps the two in step)."""
    lines = [
        "| role | may run reports | patients in reports | categories in reports"
        " | row-level pages | other fields |",
        "|---|---|---|---|---|---|",
    ]
    for role, rule in REPORT_RULES.items():
        if rule is None:
            cells = ["no", "-", "-", "-", "as its role policy"]
        else:
            other = "nothing (reports only)" if rule.reports_only else "as its role policy"
            cells = ["yes", rule.rows.value, rule.categories.value, rule.pages.value, other]
        lines.append(f"| `{role.value}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
