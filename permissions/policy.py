"""The PHI policy as data: one row per role, one column per category.

`@phi(allow: [...], mask: [...])` on a single field overrides its column for the listed roles.
The write table says who may set or change a category; `@phi(write: [...])` on a single field
replaces its column with exactly the roles listed. The guard compiles both tables once per field
at schema build; nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from permissions.roles import (
    DEMOGRAPHICS,
    Capability,
    Category,
    Decision,
    ProxyScope,
    Purpose,
    Role,
)
from permissions.tables import complete

A, M, D = Decision.ALLOW, Decision.MASK, Decision.DENY

COLUMNS: tuple[Category, ...] = (
    Category.NAME, Category.SSN, Category.MRN, Category.DATE, Category.GENDER, Category.ADDRESS,
    Category.ZIP, Category.PHONE, Category.EMAIL, Category.DIAGNOSIS, Category.LAB, Category.NOTE,
)  # fmt: skip

# fmt: off
_ROWS: dict[Role, tuple[Decision, ...]] = {
    #                 NAME SSN MRN DATE GEN ADDR ZIP PHONE EMAIL DX  LAB NOTE
    Role.PHYSICIAN:  (A,   A,  A,  A,   A,  A,   A,  A,    A,    A,  A,  A),
    Role.NURSE:      (A,   M,  A,  A,   A,  A,   A,  A,    A,    A,  A,  A),
    Role.FRONT_DESK: (A,   M,  A,  A,   A,  A,   A,  A,    A,    D,  D,  D),
    Role.BILLING:    (A,   A,  A,  A,   A,  A,   A,  A,    A,    A,  D,  D),
    Role.PATIENT:    (A,   A,  A,  A,   A,  A,   A,  A,    A,    A,  A,  A),
    Role.RESEARCHER: (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
    Role.AUDITOR:    (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
    Role.ADMIN:      (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
}
# fmt: on


def _build(rows: dict[Role, tuple[Decision, ...]]) -> Mapping[Role, Mapping[Category, Decision]]:
    if set(COLUMNS) != set(Category) or set(rows) != set(Role):
        raise RuntimeError("the policy table must cover every role and every category")
    return MappingProxyType(
        {role: MappingProxyType(dict(zip(COLUMNS, row, strict=True))) for role, row in rows.items()}
    )


POLICY: Mapping[Role, Mapping[Category, Decision]] = _build(_ROWS)

W = Decision.ALLOW
# Who may set or change each category (Decision.ALLOW: write; DENY: not). DATE is written by
# the front desk (birth dates); the clinical dates name their writers per field, with the
# record they date (`@phi(write: [...])` in schema/types.py). An OAuth2 token writes nothing.
# fmt: off
_WRITES: dict[Role, tuple[Decision, ...]] = {
    #                 NAME SSN MRN DATE GEN ADDR ZIP PHONE EMAIL DX  LAB NOTE
    Role.PHYSICIAN:  (D,   D,  D,  D,   D,  D,   D,  D,    D,    W,  D,  W),
    Role.NURSE:      (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  W,  W),
    Role.FRONT_DESK: (W,   W,  W,  W,   W,  W,   W,  W,    W,    D,  D,  D),
    Role.BILLING:    (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
    Role.PATIENT:    (D,   D,  D,  D,   D,  W,   W,  W,    W,    D,  D,  D),
    Role.RESEARCHER: (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
    Role.AUDITOR:    (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
    Role.ADMIN:      (D,   D,  D,  D,   D,  D,   D,  D,    D,    D,  D,  D),
}
# fmt: on

WRITE_POLICY: Mapping[Role, Mapping[Category, Decision]] = _build(_WRITES)


class RowScope(StrEnum):
    """Which patients a role may load at all (row access). An organization is a tenant: a
    scope that is not a list of named patients (a care team, a grant, one's own record) is
    bounded by the caller's organization, and a caller in none has no rows by it."""

    CARE_TEAM = "care team assignments"
    ORGANIZATION = "all patients of their organization"
    """Also a client_credentials principal's (Principal.row_scope): its client's organization."""
    WITH_ENCOUNTERS = "their organization's patients with encounters"
    SELF_AND_PROXY = "self, and patients who granted proxy access"
    NONE = "none"


ROW_SCOPE: Mapping[Role, RowScope] = complete(
    "ROW_SCOPE",
    {
        Role.PHYSICIAN: RowScope.CARE_TEAM,
        Role.NURSE: RowScope.CARE_TEAM,
        Role.FRONT_DESK: RowScope.ORGANIZATION,
        Role.BILLING: RowScope.WITH_ENCOUNTERS,
        Role.PATIENT: RowScope.SELF_AND_PROXY,
        Role.RESEARCHER: RowScope.NONE,
        Role.AUDITOR: RowScope.NONE,
        Role.ADMIN: RowScope.NONE,
    },
    Role,
)

DEFAULT_PURPOSE: Mapping[Role, Purpose] = complete(
    "DEFAULT_PURPOSE",
    {
        Role.PHYSICIAN: Purpose.TREATMENT,
        Role.NURSE: Purpose.TREATMENT,
        Role.FRONT_DESK: Purpose.OPERATIONS,
        Role.BILLING: Purpose.PAYMENT,
        Role.PATIENT: Purpose.PATIENT_REQUEST,
        Role.RESEARCHER: Purpose.RESEARCH,
        Role.AUDITOR: Purpose.OPERATIONS,
        Role.ADMIN: Purpose.OPERATIONS,
    },
    Role,
)

# A proxy reads identifiers (SSN, MRN) only under a FULL grant.
_CLINICAL = frozenset(
    {Category.NAME, Category.DATE, Category.DIAGNOSIS, Category.LAB, Category.NOTE}
)

PROXY_CATEGORIES: Mapping[ProxyScope, frozenset[Category]] = complete(
    "PROXY_CATEGORIES",
    {
        ProxyScope.FULL: frozenset(Category),
        ProxyScope.DEMOGRAPHICS: DEMOGRAPHICS,
        ProxyScope.CLINICAL: _CLINICAL,
    },
    ProxyScope,
)

EXPORT_BUDGET: Mapping[Role, int] = complete(
    "EXPORT_BUDGET",
    {
        Role.PHYSICIAN: 500,
        Role.NURSE: 500,
        Role.FRONT_DESK: 1000,
        Role.BILLING: 2000,
        Role.PATIENT: 20,
        Role.RESEARCHER: 0,
        Role.AUDITOR: 200,
        Role.ADMIN: 0,
    },
    Role,
)
"""Distinct patients whose identified PHI (ALLOW or MASK) a principal may read per clock hour.
Roles that never read identified PHI get 0. `PHIGATE_EXPORT_BUDGET` overrides per role."""


@dataclass(frozen=True, slots=True)
class CapabilityRule:
    roles: frozenset[Role]
    people_only: bool = False
    """True: a signed-in person's own act, which an OAuth2 token acting for them may not do."""


CAPABILITIES: Mapping[Capability, CapabilityRule] = complete(
    "CAPABILITIES",
    {
        Capability.AUDIT_TRAIL: CapabilityRule(frozenset({Role.AUDITOR})),
        Capability.ACCESS_LOG: CapabilityRule(frozenset({Role.PATIENT})),
        # Emergency access to a patient outside one's care team (break-glass).
        Capability.BREAK_GLASS: CapabilityRule(frozenset({Role.PHYSICIAN}), people_only=True),
        # Administration: a signed-in admin only, never an OAuth2 token acting for one. None of
        # these reads PHI (the admin's policy row denies every category, and ROW_SCOPE is NONE).
        Capability.MANAGE_USERS: CapabilityRule(frozenset({Role.ADMIN}), people_only=True),
        Capability.MANAGE_ORGANIZATIONS: CapabilityRule(frozenset({Role.ADMIN}), people_only=True),
        Capability.MANAGE_CARE_TEAMS: CapabilityRule(frozenset({Role.ADMIN}), people_only=True),
        Capability.MANAGE_CLIENTS: CapabilityRule(frozenset({Role.ADMIN}), people_only=True),
        # Release of PHI to someone the patient authorises: the patient's own act...
        Capability.OWN_PROXIES: CapabilityRule(frozenset({Role.PATIENT}), people_only=True),
        # ...or recorded by registration staff when the patient asks in person.
        Capability.RECORD_PROXY: CapabilityRule(frozenset({Role.FRONT_DESK}), people_only=True),
    },
    Capability,
)
