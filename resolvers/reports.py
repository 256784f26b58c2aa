"""Report resolvers: the report's patients and aggregates, within the report policy.

Like every resolver these open nothing themselves: @phi fields of report rows go through the
guard (their subject carries the report scope, so they are de-identified), and derived values
(ages, aggregate keys) through `permissions.report_reads.ReportReader`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from crypto.errors import CryptoError
from crypto.sealed import Sealed
from permissions import aggregate as aggregates
from permissions import report_pages
from permissions.deidentify import report_date, reported_age
from permissions.pseudonyms import ReportScope
from permissions.report_reads import ReportDenied, ReportReader
from permissions.reports import ReportRule, report_rule
from permissions.roles import Category
from resolvers.patients import check_page_size
from schema.context import RequestContext
from schema.errors import BadInput, Forbidden, PhiUnavailable

MAX_DIMENSIONS = len(aggregates.Dimension)


def rule_of(ctx: RequestContext) -> ReportRule:
    rule = report_rule(ctx.principal)
    if rule is None:
        raise Forbidden("Not permitted to run reports")
    return rule


def _reader(ctx: RequestContext) -> ReportReader:
    return ReportReader(ctx.principal, ctx.phi.keyring, ctx.phi.audit, report_date())


@contextmanager
def _answers() -> Iterator[None]:
    """Denials and decryption failures as the client sees them for guarded fields."""
    try:
        yield
    except ReportDenied:
        raise Forbidden() from None
    except CryptoError:
        raise PhiUnavailable() from None


async def patients(
    ctx: RequestContext, scope: ReportScope, first: int, after: str | None
) -> report_pages.Page:
    check_page_size(first)
    visible = await report_pages.report_patients(rule_of(ctx), ctx.rows)
    try:
        return await report_pages.page(
            ctx.phi.keyring, ctx.principal, visible, scope, first, after, datetime.now(UTC)
        )
    except report_pages.InvalidCursor:
        raise BadInput("Invalid or expired cursor") from None


def age(ctx: RequestContext, patient_id: str, birth_date: Sealed | None, path: str) -> str | None:
    with _answers():
        return _reader(ctx).read(
            patient_id, "ReportPatientEdge.age", path, Category.DATE, birth_date, reported_age
        )


async def aggregate(
    ctx: RequestContext, by: Sequence[aggregates.Dimension], path: str
) -> aggregates.Table:
    if not by or len(set(by)) != len(by):
        raise BadInput(f"by must name 1 to {MAX_DIMENSIONS} distinct dimensions")
    visible = await report_pages.report_patients(rule_of(ctx), ctx.rows)
    with _answers():
        return await aggregates.aggregate(_reader(ctx), visible, by, path)
