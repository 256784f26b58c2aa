"""Report resolvers: the report's patients and aggregates, within the report policy.

Like every resolver these decide and open nothing themselves: @phi fields of report rows go
through the object pass (their subject carries the report scope, so they are de-identified),
and derived values (ages, aggregate keys) through `permissions.decisions.Access`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from crypto.sealed import Sealed
from permissions import aggregate as aggregates
from permissions import report_pages
from permissions.pseudonyms import ReportScope
from resolvers.patients import check_page_size
from schema.context import RequestContext
from schema.errors import BadInput

MAX_DIMENSIONS = len(aggregates.Dimension)


async def patients(
    ctx: RequestContext, scope: ReportScope, first: int, after: str | None
) -> report_pages.Page:
    check_page_size(first)
    try:
        return await ctx.access.report_page(scope, first, after, datetime.now(UTC))
    except report_pages.InvalidCursor:
        raise BadInput("Invalid or expired cursor") from None


def age(ctx: RequestContext, patient_id: str, birth_date: Sealed | None, path: str) -> str | None:
    return ctx.access.age(patient_id, "ReportPatientEdge.age", path, birth_date)


async def aggregate(
    ctx: RequestContext, by: Sequence[aggregates.Dimension], path: str
) -> aggregates.Table:
    if not by or len(set(by)) != len(by):
        raise BadInput(f"by must name 1 to {MAX_DIMENSIONS} distinct dimensions")
    return await ctx.access.aggregate(by, path)
