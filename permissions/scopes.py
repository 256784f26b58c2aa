"""OAuth2 scopes as data: which PHI categories each scope opens, on top of the role policy.

A token's decision for a field is its role's policy intersected with its scopes: a category no
granted scope names is DENY, and without `patient.read` (or a SMART resource scope, smart.py)
no patient is visible at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

from permissions import smart
from permissions.roles import DEMOGRAPHICS, Category
from permissions.tables import complete


class Scope(StrEnum):
    PATIENT_READ = "patient.read"
    """Load patient records at all (row access); PHI fields still need a phi.* scope."""
    PHI_DEMOGRAPHICS = "phi.demographics"
    PHI_IDENTIFIERS = "phi.identifiers"
    PHI_CLINICAL = "phi.clinical"
    REPORTS_READ = "reports.read"
    """De-identified report queries only; grants no identified patient and no PHI category."""


SCOPE_CATEGORIES: Mapping[Scope, frozenset[Category]] = complete(
    "SCOPE_CATEGORIES",
    {
        Scope.PATIENT_READ: frozenset(),
        Scope.PHI_DEMOGRAPHICS: DEMOGRAPHICS,
        Scope.PHI_IDENTIFIERS: frozenset({Category.SSN, Category.MRN}),
        Scope.PHI_CLINICAL: frozenset(
            {Category.DIAGNOSIS, Category.LAB, Category.NOTE, Category.DATE}
        ),
        Scope.REPORTS_READ: frozenset(),
    },
    Scope,
)

ALL_SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)


def scope_categories(scopes: Iterable[str], *, person: bool) -> frozenset[Category]:
    """The PHI categories the granted scopes open for a token acting for a user (`person`)
    or for its client; unknown scope names open nothing."""
    scopes = tuple(scopes)
    opened = smart.smart_categories(scopes, person)
    for name in scopes:
        if name in ALL_SCOPES:
            opened |= SCOPE_CATEGORIES[Scope(name)]
    return opened


def sees_patients(scopes: frozenset[str] | None) -> bool:
    """Whether row access applies at all: always for non-OAuth principals."""
    return scopes is None or Scope.PATIENT_READ.value in scopes or smart.reads_rows(scopes)


def check_scopes(names: Iterable[str]) -> None:
    """smart.ScopeError, naming the first scope, unless every one is a phigate scope or a
    grantable SMART scope."""
    for name in names:
        if name in ALL_SCOPES:
            continue
        if not smart.is_smart(name):
            raise smart.ScopeError(f"{name}: not a phigate or SMART scope")
        smart.check(name)
