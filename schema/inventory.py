"""Every `@phi` field of a built schema, read from the guards attached to it."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from strawberry.types.base import StrawberryObjectDefinition

from permissions.policy import POLICY
from permissions.roles import Category, Decision, Role
from schema.guard import PhiGuard


@dataclass(frozen=True, slots=True)
class PhiField:
    type_name: str
    field_name: str
    column: str
    category: Category
    guard: PhiGuard

    @property
    def overrides(self) -> dict[Role, Decision]:
        return {
            role: decision
            for role, decision in self.guard.plan.decisions.items()
            if POLICY[role][self.category] is not decision
        }


def phi_fields(schema: strawberry.Schema) -> list[PhiField]:
    found: list[PhiField] = []
    for name in sorted(schema._schema.type_map):
        definition = schema.get_type_by_name(name)
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for field in definition.fields:
            for extension in field.extensions:
                if isinstance(extension, PhiGuard):
                    found.append(
                        PhiField(
                            type_name=name,
                            field_name=schema.config.name_converter.get_graphql_name(field),
                            column=extension.column,
                            category=extension.plan.category,
                            guard=extension,
                        )
                    )
    return found
