"""`myFieldAccess`: which @phi fields of which types the caller may read, mask-read, read in
reports or write, so a frontend selects only what it will be given. Decided by
`permissions.decisions.Access.field_access`, nowhere else."""

from __future__ import annotations

import strawberry

from permissions.decisions import Access
from schema.audit_types import AuditDecision
from schema.phi import PhiCategory


@strawberry.type(description="What the caller may do with one @phi field.")
class FieldAccess:
    type_name: str = strawberry.field(description="The object type (`Patient`).")
    field: str = strawberry.field(description="The field (`mrn`).")
    category: PhiCategory  # type: ignore[valid-type]
    read: AuditDecision = strawberry.field(  # type: ignore[valid-type]
        description="On a patient the caller's rows include: ALLOW (the value), MASK (a "
        "masked value), DENY (null and a FORBIDDEN error at the field)."
    )
    report: AuditDecision = strawberry.field(  # type: ignore[valid-type]
        description="Through `report`: DEIDENTIFY, or DENY."
    )
    write: bool = strawberry.field(description="Whether the caller's inputs may set it.")


def field_access(access: Access) -> list[FieldAccess]:
    found = []
    for entry in access.field_access():
        type_name, _, field = entry.coordinate.partition(".")
        found.append(
            FieldAccess(
                type_name=type_name,
                field=field,
                category=entry.category,
                read=entry.read,
                report=entry.report,
                write=entry.write,
            )
        )
    return found
