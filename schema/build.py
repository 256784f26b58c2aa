"""The schema and its extensions. Faults are masked (schema/faults.py); ours carry codes."""

from __future__ import annotations

from types import MappingProxyType

import strawberry
from graphql import ASTValidationRule, GraphQLError, GraphQLObjectType
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from permissions.decisions import FieldPlans
from schema import invariants
from schema.audit_flush import AuditFlush
from schema.documents import Documents
from schema.execution import GuardedExecutionContext, QuietExecutionContext
from schema.faults import MaskFaults, log_faults
from schema.guard import PhiGuard
from schema.inventory import PhiField, phi_fields
from schema.limits import CostLimit, Limits, directives_per_field_rule, ignore_introspection
from schema.mutation import Mutation
from schema.object_pass import PHI_GUARDS
from schema.operation_metrics import OperationMetrics
from schema.query import Query
from schema.scalars import SCALARS
from schema.text import TextLiteralRule
from schema.types import ClinicalNote, Diagnosis, Encounter, Observation, Patient


class PhigateSchema(strawberry.Schema):
    plans: FieldPlans
    """Every @phi field's plan by coordinate: what `permissions.decisions.Access` decides
    searches, reports and aggregates by, so they are decided as the fields are."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (NOT_FOUND, FORBIDDEN...) are answers, not faults: they are not logged.
        log_faults(errors)


def _mark_phi_types(schema: strawberry.Schema, fields: list[PhiField]) -> None:
    """Name each object type's guarded fields in its `extensions`, where the execution context
    finds them: objects of these types go through the guard's object pass."""
    guards: dict[str, dict[str, PhiGuard]] = {}
    for field in fields:
        guards.setdefault(field.type_name, {})[field.field_name] = field.guard
    for type_name, by_field in guards.items():
        graphql_type = schema._schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType)
        graphql_type.extensions = {**graphql_type.extensions, PHI_GUARDS: by_field}


def build_schema(limits: Limits | None = None, production: bool = True) -> PhigateSchema:
    """The schema as served, its invariants checked and its PHI types marked for the object
    pass. `production` turns introspection and every "did you mean" suggestion off: in
    validation (fields, arguments, types, enum values, input fields) and in coercing
    variables."""
    limits = limits or Limits()
    # Rule classes are made once, with the schema (strawberry's limiter extensions would make
    # them per request).
    rules: list[type[ASTValidationRule]] = [
        depth_rule(limits.max_depth, ignore_introspection),
        alias_rule(limits.max_aliases),
        directives_per_field_rule(limits.max_directives_per_field),
        TextLiteralRule,
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    schema = PhigateSchema(
        query=Query,
        mutation=Mutation,
        types=[Patient, Encounter, Diagnosis, Observation, ClinicalNote],
        extensions=[
            # First: its time covers the other extensions' work (the audit write too).
            OperationMetrics,
            Documents(limits.max_tokens, rules, hide_suggestions=production).extension,
            lambda: CostLimit(limits.max_cost, limits.list_estimate),
            AuditFlush,
            MaskFaults,
        ],
        # Also strawberry's own switch: it covers a document strawberry validates itself.
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=production),
        execution_context_class=QuietExecutionContext if production else GuardedExecutionContext,
    )
    fields = phi_fields(schema)
    invariants.check(schema, fields)
    _mark_phi_types(schema, fields)
    schema.plans = MappingProxyType({field.coordinate: field.guard.plan for field in fields})
    return schema
