"""The `@phi` schema directive and `phi()`, which declares a guarded PHI field.

The directive is printed in the SDL, so the schema documents which category each field is and
which roles a field overrides (`allow`/`mask` for reading, `write` for who may set it); the
`PhiGuard` in the field's metadata, which the object pass and the write path apply, enforces
exactly that.
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
    write: list[PhiRole] | None = strawberry.UNSET  # type: ignore[valid-type]


def phi(
    category: Category,
    *,
    column: str,
    allow: tuple[Role, ...] = (),
    mask: tuple[Role, ...] = (),
    write: tuple[Role, ...] | None = None,
    description: str | None = None,
) -> Any:
    """A PHI field that reads sealed column `column` of its object's row through the guard.
    `write`: exactly the roles that may set it, instead of its category's write column."""
    directive = Phi(
        category=category,
        allow=list(allow) if allow else strawberry.UNSET,
        mask=list(mask) if mask else strawberry.UNSET,
        write=strawberry.UNSET if write is None else list(write),
    )
    guard = PhiGuard(FieldPlan.compile(category, allow, mask, write), column)
    return _guarded(guard, directive, description)


def earlier(record: type, name: str) -> Any:
    """Field `name` of type `record` as it was before a change (a revision's copy of it): the
    same category, read decisions and column; nobody writes it."""
    field = record.__strawberry_definition__.get_field(name)  # type: ignore[attr-defined]
    guard: PhiGuard = field.metadata[PHI_GUARD]
    directive = next(d for d in field.directives if isinstance(d, Phi))
    copy = Phi(category=directive.category, allow=directive.allow, mask=directive.mask)
    return _guarded(PhiGuard(guard.plan.read_only(), guard.column), copy, None)


def _guarded(guard: PhiGuard, directive: Phi, description: str | None) -> Any:
    return strawberry.field(
        resolver=outside_the_object_pass,
        directives=[directive],
        metadata={PHI_GUARD: guard},
        description=description,
    )
