"""Builds the schema with its extensions. Unexpected errors are masked; ours carry a code."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig

from schema.audit_flush import AuditFlush
from schema.errors import PhigateError
from schema.query import Query
from schema.scalars import SCALARS
from schema.types import ClinicalNote, Diagnosis, Encounter, Observation, Patient


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, PhigateError)


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=[Patient, Encounter, Diagnosis, Observation, ClinicalNote],
        extensions=[
            AuditFlush,
            lambda: MaskErrors(should_mask_error=_should_mask, error_message="Internal error"),
        ],
        config=StrawberryConfig(scalar_map=SCALARS),
    )
