"""Scalars for PHI values."""

from __future__ import annotations

from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

PartialDate = NewType("PartialDate", str)

SCALARS: dict[object, ScalarDefinition] = {
    PartialDate: strawberry.scalar(
        name="PartialDate",
        description=(
            "An ISO 8601 calendar date, YYYY-MM-DD, or reduced to its year (YYYY) when masked "
            "or de-identified."
        ),
        serialize=str,
        parse_value=str,
    )
}
