"""The query root."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import patients as patient_resolvers
from schema import types
from schema.report import Report, open_report


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its opaque id, if the caller may see it.")
    async def node(self, info: Info[Any, None], id: strawberry.ID) -> types.Node | None:
        return await patient_resolvers.node(info.context, id)

    @strawberry.field(description="One patient. NOT_FOUND whether absent or not visible.")
    async def patient(self, info: Info[Any, None], id: strawberry.ID) -> types.Patient | None:
        return await patient_resolvers.patient(info.context, id)

    @strawberry.field(description="Patients visible to the caller, ordered by id, 100 at most.")
    async def patients(
        self,
        info: Info[Any, None],
        first: int = 20,
        after: str | None = None,
        mrn: str | None = None,
    ) -> types.PatientConnection:
        return await patient_resolvers.patients(info.context, first, after, mrn)

    @strawberry.field(
        description="De-identified reports. FORBIDDEN for roles that may not run reports."
    )
    def report(self, info: Info[Any, None]) -> Report | None:
        return open_report(info.context)
