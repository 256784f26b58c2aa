"""Per-deployment safeguards the resolvers and the audit buffer apply (set from Settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from permissions.policy import EXPORT_BUDGET
from permissions.roles import Role


@dataclass(frozen=True, slots=True)
class Safeguards:
    export_budget: Mapping[Role, int] = field(default_factory=lambda: EXPORT_BUDGET)
    """Distinct patients with identified PHI per actor and clock hour, by role."""
    break_glass_minutes: int = 60
    """How long an emergency grant lasts when the physician does not say."""
    break_glass_max_minutes: int = 240
    """The longest emergency grant a physician may ask for."""


DEFAULT_SAFEGUARDS = Safeguards()
