"""The schema's custom scalars, described for clients' code generators: each is a string on
the wire (map both to `string` in graphql-codegen's `scalars`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import NewType

import strawberry
from strawberry.schema.types.base_scalars import DateTimeDefinition
from strawberry.types.scalar import ScalarDefinition

PartialDate = NewType("PartialDate", str)

SCALARS: dict[object, ScalarDefinition] = {
    # strawberry's own, but with the specification it follows named (`@specifiedBy`).
    datetime: replace(
        DateTimeDefinition,
        description="A date and time with its UTC offset, RFC 3339 (`2026-12-02T13:04:51+00:00`).",
        specified_by_url="https://scalars.graphql.org/andimarek/date-time",
    ),
    PartialDate: strawberry.scalar(
        name="PartialDate",
        description=(
            "An ISO 8601 calendar date, YYYY-MM-DD, or reduced to its year (YYYY) when masked "
            "or de-identified."
        ),
        serialize=str,
        parse_value=str,
    ),
}
