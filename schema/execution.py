"""The execution context of phigate's schema: objects with PHI fields go through the guard's
object pass (schema/object_pass.py); everything else executes as graphql-core does.

The one hook is `execute_fields`, which graphql-core calls for every object it completes with
the object's collected selection (`@skip`/`@include`, fragments and aliases already applied).
"""

from __future__ import annotations

from typing import Any

from graphql import (
    ExecutionResult,
    Executor,
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    GraphQLObjectType,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.object_pass import PHI_GUARDS, ObjectPlan
from schema.value_errors import all_rewritten


class GuardedExecutionContext(StrawberryGraphQLCoreExecutionContext):
    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
        """Errors in coercing the variables quote no submitted value (schema/value_errors.py)."""
        built = super().build(*args, **kwargs)
        if isinstance(built, list):
            variables = kwargs.get("raw_variable_values", args[4] if len(args) > 4 else None)
            return all_rewritten(built, variables)
        return built

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[int, tuple[GroupedFieldSet, ObjectPlan]] = {}
        """id(selection) -> (the selection, held so its id stays unique; its plan)."""

    def build_response(
        self, data: dict[str, Any] | None
    ) -> ExecutionResult | ExperimentalIncrementalExecutionResults:
        response = super().build_response(data)
        # The last step of an execution. graphql-core's async helpers are this context's own
        # bound methods: a reference cycle, through which the request's objects (its context,
        # plans and rows) would wait for the cyclic collector instead of being freed now.
        del self.async_helpers
        return response

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        guards = parent_type.extensions.get(PHI_GUARDS)
        if guards is None or path is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        # A context without a guard session fails here, as an error at this object: no PHI.
        session = self.context_value.phi
        cached = self._plans.get(id(grouped_field_set))
        if cached is None:
            plan = ObjectPlan(parent_type, grouped_field_set, guards, session.principal)
            self._plans[id(grouped_field_set)] = (grouped_field_set, plan)
        else:
            plan = cached[1]
        if not plan.phi_keys:
            # Nothing to decide, record or open (a write answering `{ id version }`).
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        values, others, opening = plan.complete(session, source_value, path)
        if not others:
            session.seal_later(values, path, plan, opening)
            return values
        rest = super().execute_fields(parent_type, source_value, path, others, position_context)
        if self.is_awaitable(rest):
            return plan.merge_later(values, rest, session, path, opening)
        return plan.merge_and_seal(values, rest, session, path, opening)  # type: ignore[arg-type]


class QuietExecutionContext(GuardedExecutionContext):
    """Production: coercing the request's variables (enum values, input object fields) names
    no valid alternative, as validation does not (schema/documents.py). strawberry passes no
    `hide_suggestions` to graphql-core's execute; the executor's own build takes it."""

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> list[GraphQLError] | Executor[Any]:
        return super().build(*args, **{**kwargs, "hide_suggestions": True})
