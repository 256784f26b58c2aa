"""What a `@phi` field carries: its compiled plan and the sealed column it reads.

The object pass (schema/object_pass.py) is the one path by which a PHI field is answered. The
field's own resolver is a tripwire: if anything ever resolves the field another way (a schema
built without phigate's execution context, a new code path), it answers no value, an error at
the field and a log line, instead of a second implementation of the guard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from strawberry.types import Info

from permissions.decisions import FieldPlan
from schema.errors import PhiUnavailable

PHI_GUARD = "phigate.phi_guard"
"""Key, in a strawberry field's `metadata`, of its `PhiGuard`."""

log = logging.getLogger("phigate.guard")


@dataclass(frozen=True, slots=True)
class PhiGuard:
    plan: FieldPlan
    column: str


# No return annotation: strawberry takes the GraphQL type from the field's class attribute.
def outside_the_object_pass(root: Any, info: Info[Any, Any]):  # type: ignore[no-untyped-def]
    """The resolver of every @phi field (see the module's docstring)."""
    log.error(
        "PHI field %s.%s resolved outside the object pass; withheld",
        info._raw_info.parent_type.name,
        info.field_name,
    )
    raise PhiUnavailable()
