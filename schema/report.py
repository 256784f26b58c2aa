"""The `report` root field: de-identified patients and aggregates (HIPAA Safe Harbor).

Rows under `report` are the ordinary `Patient` type with a subject marked for the report: every
@phi field is de-identified by its category by the guard, and every record id is a pseudonym of
this report.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from permissions.aggregate import Dimension
from permissions.counting import COUNT_LIMIT
from permissions.pseudonyms import ReportScope
from permissions.report_pages import Page
from resolvers import reports as resolvers
from schema import types
from schema.context import RequestContext
from schema.invariants import rows

ReportDimension = strawberry.enum(Dimension, name="ReportDimension")


def _path(info: Info[Any, Any]) -> str:
    return ".".join(str(part) for part in info.path.as_list())


@strawberry.type
class ReportPatientEdge:
    node: types.Patient

    @strawberry.field(
        description="Age in whole years on the report date; `90+` for every age above 89."
    )
    def age(self, info: Info[RequestContext, None]) -> str | None:
        node = self.node
        return resolvers.age(
            info.context, node.subject.patient_id, node.row.birth_date, _path(info)
        )


@strawberry.type
class ReportPatientConnection:
    edges: list[ReportPatientEdge]
    page_info: types.PageInfo
    total_count: int = strawberry.field(
        description=f"The report's patients, counted up to {COUNT_LIMIT:,} (see `totalCountExact`)."
    )
    total_count_exact: bool = strawberry.field(
        description="False when the report has more than `totalCount` patients."
    )


@strawberry.type(description="One cell of an aggregate; a dimension not grouped by is null.")
class AggregateCell:
    diagnosis: str | None = strawberry.field(
        description="ICD-10-CM code, or `SNOMED:<concept id>` for a SNOMED CT-coded import."
    )
    age_band: str | None = strawberry.field(description="`0-9` ... `80-89`, `90+`.")
    zip3: str | None = strawberry.field(description="First three ZIP digits; `000` if sparse.")
    year: str | None = strawberry.field(description="Year the diagnosis was recorded.")
    count: int = strawberry.field(description="Distinct patients; always 11 or more.")


@strawberry.type
class ReportAggregate:
    cells: list[AggregateCell]
    suppressed: int = strawberry.field(
        description="Cells withheld: fewer than 11 patients, or complementary to such a cell."
    )
    total: int | None = strawberry.field(
        description="Distinct patients counted; null when fewer than 11."
    )


def _connection(page: Page) -> ReportPatientConnection:
    edges = [
        ReportPatientEdge(
            node=types.Patient(
                id=strawberry.ID(page.scope.pseudonym(row.public_id)), row=row, subject=subject
            ),
        )
        for row, subject in page.rows
    ]
    return ReportPatientConnection(
        edges=edges,
        page_info=types.PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        total_count=page.total,
        total_count_exact=page.total_exact,
    )


@strawberry.type(
    description=(
        "De-identified data (HIPAA Safe Harbor). Record ids are pseudonyms that hold within "
        "one report (one request, or the pages one cursor chain leads through) and nowhere else."
    )
)
class Report:
    scope: strawberry.Private[ReportScope]

    @strawberry.field(
        description=(
            "The report's patients in an order of its own (keyed like its pseudonyms), 100 at "
            "most; null (FORBIDDEN) for a caller offered aggregates only."
        ),
        metadata=rows("the report policy's patients, de-identified"),
    )
    async def patients(
        self, info: Info[RequestContext, None], first: int = 20, after: str | None = None
    ) -> ReportPatientConnection | None:
        return _connection(await resolvers.patients(info.context, self.scope, first, after))

    @strawberry.field(description="Patient counts grouped by `by`, small cells suppressed.")
    async def aggregate(
        self,
        info: Info[RequestContext, None],
        by: list[ReportDimension],  # type: ignore[valid-type]
    ) -> ReportAggregate:
        table = await resolvers.aggregate(info.context, by, _path(info))
        return ReportAggregate(
            cells=[
                AggregateCell(
                    diagnosis=cell.key.get(Dimension.DIAGNOSIS),
                    age_band=cell.key.get(Dimension.AGE_BAND),
                    zip3=cell.key.get(Dimension.ZIP3),
                    year=cell.key.get(Dimension.YEAR),
                    count=cell.count,
                )
                for cell in table.cells
            ],
            suppressed=table.suppressed,
            total=table.total,
        )


def open_report(ctx: RequestContext) -> Report:
    ctx.access.report_rule()
    return Report(scope=ReportScope())
