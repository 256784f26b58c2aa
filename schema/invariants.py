"""What the guard relies on, checked when the schema is built rather than on the first query.

- A @phi field is nullable (a denied field is null, the rest of its object still answers) and
  scalar (the object pass serializes the opened value), takes no arguments and carries no field
  extension (nothing may run around the object pass).
- A type holding PHI is reached only through a field that declares how row access applies to
  what it returns (`rows(...)`): every object the guard sees has a subject that row access
  built. Below such a field, everything inherits that subject.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    get_named_type,
)

from schema.guard import PHI_GUARD
from schema.inventory import PhiField

ROWS = "phigate.rows"
"""Key, in a strawberry field's `metadata`, of how row access applies to what it returns."""
_BACKREF = "strawberry-definition"


class SchemaInvariantError(Exception):
    """The schema declares something the guard cannot enforce; raised when it is built."""


def rows(how: str) -> dict[str, Any]:
    """Metadata of a field that returns PHI-holding objects: `how` says which row access
    (or capability) decides what it returns."""
    return {ROWS: how}


def check(schema: strawberry.Schema, fields: list[PhiField]) -> None:
    core = schema._schema
    for field in fields:
        _check_phi_field(core.type_map[field.type_name], field)
    holding = {field.type_name for field in fields}
    roots = [t for t in (core.query_type, core.mutation_type) if t is not None]
    seen: set[tuple[str, bool]] = set()
    stack: list[tuple[GraphQLNamedType, bool, str]] = [(t, False, t.name) for t in roots]
    while stack:
        named, guarded, path = stack.pop()
        for concrete in _possible(core, named):
            if concrete.name in holding and not guarded:
                raise SchemaInvariantError(
                    f"{path} reaches {concrete.name}, which holds PHI, through no field that "
                    "declares its row access (schema.invariants.rows)"
                )
            if (concrete.name, guarded) in seen or not isinstance(concrete, GraphQLObjectType):
                continue
            seen.add((concrete.name, guarded))
            for name, child in concrete.fields.items():
                below = guarded or ROWS in (_metadata(child) or {})
                stack.append((get_named_type(child.type), below, f"{concrete.name}.{name}"))


def _check_phi_field(graphql_type: GraphQLNamedType, field: PhiField) -> None:
    assert isinstance(graphql_type, GraphQLObjectType)
    core = graphql_type.fields[field.field_name]
    definition = core.extensions[_BACKREF]
    where = f"@phi field {field.coordinate}"
    if not isinstance(core.type, GraphQLScalarType):
        raise SchemaInvariantError(f"{where} must be a nullable scalar")
    if core.args:
        raise SchemaInvariantError(f"{where} must take no arguments")
    if definition.extensions:
        raise SchemaInvariantError(f"{where} must carry no field extension")
    if (definition.metadata or {}).get(PHI_GUARD) is not field.guard:
        raise SchemaInvariantError(f"{where} must be declared once, with phi()")


def _metadata(field: GraphQLField) -> dict[str, Any] | None:
    definition = (field.extensions or {}).get(_BACKREF)
    return getattr(definition, "metadata", None)


def _possible(core: Any, named: GraphQLNamedType) -> list[GraphQLNamedType]:
    if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
        return [named, *core.get_possible_types(named)]
    return [named]
