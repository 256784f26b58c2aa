"""A PHI field's compiled plan: its decision per role and the transform each decision applies.

Built once per field when the schema is built, so resolving a PHI field costs dict lookups.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from permissions.deidentify import SAFE_HARBOR
from permissions.masks import MASKS
from permissions.policy import POLICY
from permissions.principal import Principal
from permissions.reports import report_decision
from permissions.roles import Category, Decision, Role
from permissions.rows import Subject


class PolicyError(Exception):
    """The schema declares something the policy cannot enforce; raised at schema build."""


@dataclass(frozen=True, slots=True)
class FieldPlan:
    category: Category
    decisions: Mapping[Role, Decision]
    mask: Callable[[str], str] | None
    deidentify: Callable[[str], str | None]

    @classmethod
    def compile(
        cls, category: Category, allow: Iterable[Role] = (), mask: Iterable[Role] = ()
    ) -> FieldPlan:
        decisions = {role: row[category] for role, row in POLICY.items()}
        decisions.update(dict.fromkeys(allow, Decision.ALLOW))
        decisions.update(dict.fromkeys(mask, Decision.MASK))
        masker = MASKS.get(category)
        if masker is None and Decision.MASK in decisions.values():
            raise PolicyError(f"category {category.value} has no mask; use allow or deny")
        return cls(category, MappingProxyType(decisions), masker, SAFE_HARBOR[category])

    def decide(self, principal: Principal, subject: Subject) -> Decision:
        if subject.report is not None:
            return report_decision(principal, self.decisions[principal.role])
        if subject.categories is not None and self.category not in subject.categories:
            return Decision.DENY
        return self.decisions[principal.role]

    def apply(self, decision: Decision, plaintext: str) -> str | None:
        transform = self.transform(decision)
        return plaintext if transform is None else transform(plaintext)

    def transform(self, decision: Decision) -> Callable[[str], str | None] | None:
        """What a decision does to an opened value: None for the full value (ALLOW)."""
        if decision is Decision.ALLOW:
            return None
        if decision is Decision.MASK and self.mask is not None:
            return self.mask
        if decision is Decision.DEIDENTIFY:
            return self.deidentify
        raise PolicyError("no transform for this decision")
