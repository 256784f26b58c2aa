"""The mutation root. Strawberry refuses mutations over GET: they need a JSON POST."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import break_glass, patient_writes
from schema import audit_types, types
from schema.inputs import PatientChanges, RegisterPatientInput
from schema.invariants import rows


def _input_path(info: Info[Any, None]) -> str:
    """Where a mutation's input is, for its audit records: `<response key>.input`."""
    return f"{info.path.key}.input"


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

    @strawberry.mutation(
        description=(
            "Registers a patient in the caller's organization. Every field set must be "
            "writable by the caller (front desk, by default), or nothing is written. Send an "
            "`Idempotency-Key` header to make a retry return the first result."
        ),
        metadata=rows("the patient it registers, then the caller's row access"),
    )
    async def register_patient(
        self, info: Info[Any, None], input: RegisterPatientInput
    ) -> types.Patient:
        return await patient_writes.register_patient(info.context, input, _input_path(info))

    @strawberry.mutation(
        description=(
            "Changes some fields of a patient in the caller's rows (NOT_FOUND otherwise). "
            "`version` is the version read: a stale one is CONFLICT and nothing is written. "
            "The previous values are kept in `Patient.history`."
        ),
        metadata=rows("the caller's row access"),
    )
    async def update_patient(
        self,
        info: Info[Any, None],
        id: strawberry.ID,
        version: int,
        input: PatientChanges,
        reason: str | None = None,
    ) -> types.Patient:
        return await patient_writes.update_patient(
            info.context, id, version, input, reason, _input_path(info)
        )
