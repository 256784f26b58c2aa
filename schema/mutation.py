"""The mutation root. Strawberry refuses mutations over GET: they need a JSON POST."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import break_glass
from schema import audit_types
from schema.invariants import rows


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description=(
            "Break-glass: a physician opens time-limited emergency access to a patient outside "
            "their care team, found by MRN, stating why. Every read under it is audited with "
            "purpose EMERGENCY and listed for review."
        ),
        metadata=rows("the break-glass grant it opens"),
    )
    async def open_emergency_access(
        self, info: Info[Any, None], mrn: str, reason: str, minutes: int | None = None
    ) -> audit_types.EmergencyAccess:
        return await break_glass.open_emergency_access(info.context, mrn, reason, minutes)

    @strawberry.mutation(description="Ends your own emergency grant early.")
    async def close_emergency_access(self, info: Info[Any, None], grant_id: strawberry.ID) -> bool:
        return await break_glass.close_emergency_access(info.context, grant_id)
