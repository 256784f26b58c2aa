"""Abuse limits for GraphQL documents (OWASP API4, unrestricted resource consumption).

Depth, aliases and tokens are checked by strawberry's validators; directives per field and
cost are ours. Cost counts every field once per object it may be resolved on: the list inside a
paged field (`patients(first: N) { edges ... }`) multiplies what is below it by N (the variable's
value when N is a variable, the argument's default when absent), any other list by
`list_estimate`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
)
from strawberry.extensions import SchemaExtension
from strawberry.extensions.query_depth_limiter import IgnoreContext

from schema.errors import PhigateError


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_directives_per_field: int = 3
    max_cost: int = 50_000
    list_estimate: int = 10


class QueryTooCostly(PhigateError):
    code = "QUERY_TOO_COSTLY"
    default_message = "Query too costly"


def ignore_introspection(ignore: IgnoreContext) -> bool:
    """Introspection is only allowed in development, where GraphiQL's query is deep by nature."""
    return ignore.field_name.startswith("__")


def directives_per_field_rule(limit: int) -> type[ValidationRule]:
    class DirectivesPerField(ValidationRule):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if len(node.directives or ()) > limit:
                self.report_error(
                    GraphQLError(
                        f"At most {limit} directives per field",
                        node,
                        extensions={"code": "TOO_MANY_DIRECTIVES"},
                    )
                )

    return DirectivesPerField


@dataclass(frozen=True, slots=True)
class _Walk:
    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    list_estimate: int

    def cost(
        self, parent: Any, selections: SelectionSetNode, multiplier: int, page: int | None = None
    ) -> int:
        total = 0
        for field, definition in self._fields(parent, selections):
            total += multiplier
            if field.selection_set is None:
                continue
            factor = 1
            if is_list_type(get_nullable_type(definition.type)):
                factor = page if page is not None else self.list_estimate
            named = get_named_type(definition.type)
            inner_page = self._page_size(field, definition)
            total += self.cost(named, field.selection_set, multiplier * factor, inner_page)
        return total

    def _fields(
        self, parent: Any, selections: SelectionSetNode
    ) -> Iterator[tuple[FieldNode, GraphQLField]]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                fields = getattr(parent, "fields", {})
                if selection.name.value in fields:
                    yield selection, fields[selection.name.value]
            elif isinstance(selection, InlineFragmentNode):
                target = self._type(selection.type_condition, parent)
                yield from self._fields(target, selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                target = self._type(fragment.type_condition, parent)
                yield from self._fields(target, fragment.selection_set)

    def _type(self, condition: Any, parent: Any) -> Any:
        return self.schema.get_type(condition.name.value) if condition else parent

    def _page_size(self, field: FieldNode, definition: GraphQLField) -> int | None:
        """The `first` of a paged field, or None for a field that takes no page size."""
        if "first" not in definition.args:
            return None
        for argument in field.arguments or ():
            if argument.name.value == "first":
                value = argument.value
                if isinstance(value, IntValueNode):
                    return max(int(value.value), 1)
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    if isinstance(given, int) and not isinstance(given, bool):
                        return max(given, 1)
                    return 1  # not an integer: graphql-core refuses the variable, by name
        default = definition.args["first"].default_value
        return default if isinstance(default, int) else self.list_estimate


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any],
    list_estimate: int,
) -> int:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, variables, list_estimate)
    return walk.cost(root, operation.selection_set, 1)


class CostLimit(SchemaExtension):
    """Refuses, before any resolver runs, an operation whose cost exceeds the limit."""

    def __init__(self, max_cost: int, list_estimate: int) -> None:
        self.max_cost = max_cost
        self.list_estimate = list_estimate

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            cost = operation_cost(
                context.schema._schema,
                document,
                context.operation_name,
                context.variables or {},
                self.list_estimate,
            )
            if cost > self.max_cost:
                raise QueryTooCostly(f"Query cost {cost} exceeds the limit of {self.max_cost}")
        yield
