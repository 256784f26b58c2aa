"""A patient's record read for a FHIR answer: the outbound query (interchange/record.py) run
through the served schema with the caller's own request context, as a GraphQL request would be.

So the row access, every field's decision, the audit records (committed before anything is
answered), the export budget and a key that will not open are exactly GraphQL's; this module
only turns the result's errors into what the serializer and the facade need.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request

from api.fhir.responses import FhirRefusal, not_found
from interchange.record import ROOT, Part, Path, document, withhold
from permissions.principal import Principal
from permissions.roles import Decision
from schema.build import PhigateSchema
from schema.context import RequestContext

_WITHHELD = frozenset({"FORBIDDEN", "PHI_UNAVAILABLE"})
"""Errors at one element: left out of the resource, which is labelled."""
_REFUSED = {
    "EXPORT_BUDGET_EXCEEDED": (429, "throttled", "Export budget exceeded: no data this hour"),
    "AUDIT_UNAVAILABLE": (503, "transient", "The audit trail could not be written: no data"),
    "PHI_UNAVAILABLE": (503, "transient", "The record cannot be decrypted right now"),
}
"""Errors that withhold the whole answer, as they withhold a GraphQL response's data."""
_FAULT = (500, "exception", "Internal error")


async def read_record(
    schema: PhigateSchema, request: Request, principal: Principal, patient_id: str,
    parts: Iterable[Part],
) -> dict[str, Any]:  # fmt: skip
    """The patient `patient_id` (a public id) with `parts` of their record, WITHHELD where the
    caller was not given a value in full. Raises FhirRefusal: not-found outside the caller's
    rows, throttled past the export budget, transient if the audit write failed."""
    state = request.app.state
    context = RequestContext.create(principal, state.keyring, schema.plans, state.safeguards)
    masked = frozenset(
        field.coordinate for field in context.access.field_access() if field.read is Decision.MASK
    )
    result = await schema.execute(
        document(parts), variable_values={"id": patient_id}, context_value=context
    )
    refused: list[Path] = []
    for error in result.errors or []:
        code = (error.extensions or {}).get("code")
        path = error.path or []
        if code in _WITHHELD and len(path) > 1 and path[0] == ROOT:
            refused.append(path[1:])
        elif code == "NOT_FOUND":
            raise not_found()
        else:
            raise FhirRefusal(*_REFUSED.get(str(code), _FAULT))
    record = (result.data or {}).get(ROOT)
    if record is None:
        raise not_found()
    withhold(record, refused, masked)
    return dict(record)
