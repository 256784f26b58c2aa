"""A report's patients: which ones (the report policy), in what order, page by page.

Rows are in the report's keyed order (permissions/report_order.py): unlinkable to public ids
like the pseudonyms, different from report to report, and read a bucket at a time so that a
page costs a page, not the population. A report of several pages must keep its key and bucket
size from page to page: the `after` cursor carries them and where the last page ended, sealed
(AES-256-GCM under the current data key, bound to the principal, expiring after
`CURSOR_LIFETIME`), so the server keeps no state and the client holds only ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.queryset import QuerySet

from crypto.errors import CryptoError
from crypto.keyring import Keyring
from crypto.sealed import Sealed
from models import Patient
from permissions import report_order
from permissions.counting import COUNT_LIMIT, bounded
from permissions.principal import Principal
from permissions.pseudonyms import ReportScope
from permissions.reports import ReportRows, ReportRule
from permissions.rows import RowAccess, Subject

CURSOR_LIFETIME = timedelta(hours=1)
_CURSOR_BINDING = "report.cursor|{actor}"


class InvalidCursor(Exception):
    """Not a cursor of this principal, expired, or not a cursor at all."""


async def report_patients(rule: ReportRule, rows: RowAccess) -> QuerySet[Patient]:
    if rule.rows is ReportRows.ROW_ACCESS:
        return await rows.role_scope()
    principal = rows.principal
    # An OAuth2 client's organization comes with its token; a user's with their session.
    organization = principal.organization_pk
    if organization is None:
        return Patient.filter(id__in=[])
    return Patient.filter(organization_id=organization)


@dataclass(frozen=True, slots=True)
class Page:
    scope: ReportScope
    rows: list[tuple[Patient, Subject]]
    total: int
    """Counted up to COUNT_LIMIT (permissions/counting.py): exact when `total_exact`."""
    total_exact: bool
    end_cursor: str | None
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class Position:
    """Where a report stands: its bucket size, the bucket and the last order key read."""

    bits: int
    bucket: int
    after: str


@dataclass(frozen=True, slots=True)
class Cursors:
    """Seals and opens one principal's report cursors."""

    keyring: Keyring
    principal: Principal
    now: datetime

    def seal(self, scope: ReportScope, at: Position) -> str:
        payload = {
            "key": base64.b64encode(scope.key).decode(),
            "bits": at.bits,
            "bucket": at.bucket,
            "after": at.after,
            "expires": int((self.now + CURSOR_LIFETIME).timestamp()),
        }
        sealed = self.keyring.seal(json.dumps(payload), self._binding())
        return base64.urlsafe_b64encode(sealed.blob).decode()

    def open(self, cursor: str) -> tuple[ReportScope, Position]:
        try:
            blob = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True)
            payload = json.loads(self.keyring.open(Sealed(blob, self._binding())))
            scope = ReportScope(base64.b64decode(payload["key"], validate=True))
            at = Position(int(payload["bits"]), int(payload["bucket"]), str(payload["after"]))
            expires = int(payload["expires"])
        except (binascii.Error, ValueError, KeyError, TypeError, CryptoError):
            raise InvalidCursor() from None
        if expires < self.now.timestamp():
            raise InvalidCursor()
        return scope, at

    def _binding(self) -> str:
        return _CURSOR_BINDING.format(actor=self.principal.actor)


async def page(
    cursors: Cursors,
    access: RowAccess,
    patients: QuerySet[Patient],
    scope: ReportScope,
    first: int,
    after: str | None,
) -> Page:
    # The lowest shuffle values (an index range) count the report up to the limit, and size
    # its buckets on the first page.
    lowest = patients.order_by("report_shuffle").limit(COUNT_LIMIT + 1)
    sample: list[int] = [value for (value,) in await lowest.values_list("report_shuffle")]
    total, exact = bounded(len(sample))
    if after is None:
        at = Position(report_order.bucket_bits(sample), 0, "")
    else:
        scope, at = cursors.open(after)
    chosen: list[tuple[Position, int]] = []
    bucket = at.bucket
    while len(chosen) <= first and bucket < 1 << at.bits:
        low, high = report_order.span(scope.key, at.bits, bucket)
        members = await patients.filter(
            report_shuffle__gte=low, report_shuffle__lte=high
        ).values_list("id", "public_id")
        ordered = sorted((report_order.order_key(scope.key, str(p)), pk) for pk, p in members)
        chosen += [
            (Position(at.bits, bucket, key), pk)
            for key, pk in ordered
            if bucket > at.bucket or key > at.after
        ]
        bucket += 1
    shown = chosen[:first]
    loaded = {row.id: row for row in await Patient.filter(id__in=[pk for _, pk in shown])}
    rows = [
        (row, access.report_subject(row, scope))
        for _, pk in shown
        if (row := loaded.get(pk)) is not None
    ]
    return Page(
        scope=scope,
        rows=rows,
        total=total,
        total_exact=exact,
        end_cursor=cursors.seal(scope, shown[-1][0]) if shown else None,
        has_next_page=len(chosen) > first,
    )
