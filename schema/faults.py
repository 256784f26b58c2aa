"""Faults: errors that are neither phigate's answers (NOT_FOUND, FORBIDDEN...) nor graphql-core's
own verdicts on the request (a document or variable it refuses). A fault is logged with its
type, path and traceback, never its message (exception messages may quote data), and the
client sees "Internal error" at its location and path.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator, Sequence

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from schema.errors import PhigateError

log = logging.getLogger("phigate.graphql")
INTERNAL_ERROR = "Internal error"


def _fault(error: GraphQLError) -> Exception | None:
    """The exception behind `error` if it is a fault."""
    original = error.original_error
    return None if isinstance(original, PhigateError | GraphQLError) else original


def log_faults(errors: Sequence[GraphQLError]) -> None:
    for error in errors:
        if (original := _fault(error)) is not None:
            log.error(
                "unexpected %s at %s\n%s",
                type(original).__name__,
                error.path,
                "".join(traceback.format_tb(original.__traceback__)),
            )


def _masked(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        INTERNAL_ERROR,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
    )


class MaskFaults(SchemaExtension):
    """strawberry's `MaskErrors` for phigate's rule, without its per-request protocol check
    (a runtime `isinstance` against a Protocol walks the result's attributes) and without
    copying the error list when nothing in it is a fault: a page can carry thousands of
    FORBIDDEN errors."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors and any(_fault(error) for error in errors):
            result.errors = [_masked(e) if _fault(e) else e for e in errors]  # type: ignore[union-attr]
