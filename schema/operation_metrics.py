"""Counts and times every GraphQL operation, labelled by what it does: `query.patients`,
`mutation.updatePatient`.

Not by the client's `operationName`: that is free text a client chooses (it could be a
patient's name), and unbounded. The root field is the schema's own name, from a fixed set; an
operation with several root fields is `<type>.multiple`, and one that does not name an
operation of the schema (it did not parse, or names a field that does not exist) is `invalid`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from graphql import DocumentNode, FieldNode, GraphQLSchema, OperationDefinitionNode
from strawberry.extensions import SchemaExtension

from observe import metrics

INVALID = "invalid"


def operation_label(schema: GraphQLSchema, document: DocumentNode | None, name: str | None) -> str:
    operations = [
        node
        for node in (document.definitions if document is not None else ())
        if isinstance(node, OperationDefinitionNode)
        and (name is None or (node.name is not None and node.name.value == name))
    ]
    if len(operations) != 1:
        return INVALID
    operation = operations[0]
    kind = operation.operation.value
    fields = {
        node.name.value if isinstance(node, FieldNode) else ""
        for node in operation.selection_set.selections
    }
    if len(fields) > 1:
        return f"{kind}.multiple"
    root = schema.get_root_type(operation.operation)
    field = next(iter(fields), "")
    return f"{kind}.{field}" if root is not None and field in root.fields else INVALID


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        context = self.execution_context
        failed = True
        try:
            yield
            result = context.result
            failed = bool(context.pre_execution_errors or result is None or result.errors)
        finally:
            # Also when an extension inside raised (the audit write failed): an error.
            label = operation_label(
                context.schema._schema, context.graphql_document, context.operation_name
            )
            metrics.GRAPHQL_REQUESTS.labels(label, "error" if failed else "ok").inc()
            metrics.GRAPHQL_SECONDS.labels(label).observe(time.perf_counter() - started)
