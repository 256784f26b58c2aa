"""The `@phi` schema directive and `phi()`, which declares a guarded PHI field.

The directive is printed in the SDL, so the schema documents which category each field is and
which roles a field overrides; the `PhiGuard` in the field's metadata, which the object pass
applies, enforces exactly that.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.schema_directive import Location

from permissions.decisions import FieldPlan
from permissions.roles import Category, Role
from schema.guard import PHI_GUARD, PhiGuard, outside_the_object_pass

PhiCategory = strawberry.enum(Category, name="PhiCategory")
PhiRole = strawberry.enum(Role, name="Role")


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    description="Protected health information: access, decryption, de-identification and audit.",
)
class Phi:
    category: PhiCategory  # type: ignore[valid-type]
    allow: list[PhiRole] | None = strawberry.UNSET  # type: ignore[valid-type]
    mask: list[PhiRole] | None = strawberry.UNSET  # type: ignore[valid-type]


def phi(
    category: Category,
    *,
    column: str,
    allow: tuple[Role, ...] = (),
    mask: tuple[Role, ...] = (),
    description: str | None = None,
) -> Any:
    """A PHI field that reads sealed column `column` of its object's row through the guard."""
    directive = Phi(
        category=category,
        allow=list(allow) if allow else strawberry.UNSET,
        mask=list(mask) if mask else strawberry.UNSET,
    )
    guard = PhiGuard(FieldPlan.compile(category, allow, mask), column)
    return strawberry.field(
        resolver=outside_the_object_pass,
        directives=[directive],
        metadata={PHI_GUARD: guard},
        description=description,
    )
