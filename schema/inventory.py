"""Every `@phi` field of a built schema, read from the guards its fields carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import strawberry
from strawberry.types.base import StrawberryObjectDefinition

from permissions.policy import POLICY, WRITE_POLICY
from permissions.roles import Category, Decision, Role
from schema.guard import PHI_GUARD, PhiGuard


@dataclass(frozen=True, slots=True)
class PhiField:
    type_name: str
    field_name: str
    column: str
    category: Category
    guard: PhiGuard

    @property
    def coordinate(self) -> str:
        return f"{self.type_name}.{self.field_name}"

    @property
    def overrides(self) -> dict[Role, Decision]:
        return {
            role: decision
            for role, decision in self.guard.plan.decisions.items()
            if POLICY[role][self.category] is not decision
        }

    @property
    def write_overrides(self) -> dict[Role, Decision]:
        """Roles whose write decision on this field differs from its category's column."""
        writes = self.guard.plan.writes or {}
        return {
            role: decision
            for role, decision in writes.items()
            if WRITE_POLICY[role][self.category] is not decision
        }


def phi_fields(schema: strawberry.Schema) -> list[PhiField]:
    found: list[PhiField] = []
    for name in sorted(schema._schema.type_map):
        definition = schema.get_type_by_name(name)
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for field in definition.fields:
            metadata: Mapping[str, object] = field.metadata or {}
            guard = metadata.get(PHI_GUARD)
            if isinstance(guard, PhiGuard):
                found.append(
                    PhiField(
                        type_name=name,
                        field_name=schema.config.name_converter.get_graphql_name(field),
                        column=guard.column,
                        category=guard.plan.category,
                        guard=guard,
                    )
                )
    return found
