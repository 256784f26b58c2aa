"""A report's patients: which ones (the report policy), in what order, page by page.

Rows are ordered by their pseudonym, so the order is as unlinkable to public ids as the
pseudonyms are, and differs from report to report. A report of several pages must keep its key
from page to page: the `after` cursor carries it, sealed (AES-256-GCM under the current data
key, bound to the principal, expiring after `CURSOR_LIFETIME`), so the server keeps no state and
the client holds only ciphertext.
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
    end_cursor: str | None
    has_next_page: bool


@dataclass(frozen=True, slots=True)
class Cursors:
    """Seals and opens one principal's report cursors."""

    keyring: Keyring
    principal: Principal
    now: datetime

    def seal(self, scope: ReportScope, last: str) -> str:
        payload = {
            "key": base64.b64encode(scope.key).decode(),
            "after": last,
            "expires": int((self.now + CURSOR_LIFETIME).timestamp()),
        }
        sealed = self.keyring.seal(json.dumps(payload), self._binding())
        return base64.urlsafe_b64encode(sealed.blob).decode()

    def open(self, cursor: str) -> tuple[ReportScope, str]:
        try:
            blob = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True)
            payload = json.loads(self.keyring.open(Sealed(blob, self._binding())))
            scope = ReportScope(base64.b64decode(payload["key"], validate=True))
            last, expires = str(payload["after"]), int(payload["expires"])
        except (binascii.Error, ValueError, KeyError, TypeError, CryptoError):
            raise InvalidCursor() from None
        if expires < self.now.timestamp():
            raise InvalidCursor()
        return scope, last

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
    last = ""
    if after is not None:
        scope, last = cursors.open(after)
    public_ids = await patients.values_list("public_id", flat=True)
    ordered = sorted((scope.pseudonym(str(public_id)), str(public_id)) for public_id in public_ids)
    remaining = [entry for entry in ordered if entry[0] > last]
    chosen = remaining[:first]
    loaded = {
        row.public_id: row for row in await Patient.filter(public_id__in=[p for _, p in chosen])
    }
    rows = [
        (row, access.report_subject(row, scope))
        for _, public_id in chosen
        if (row := loaded.get(public_id)) is not None
    ]
    return Page(
        scope=scope,
        rows=rows,
        total=len(ordered),
        end_cursor=cursors.seal(scope, chosen[-1][0]) if chosen else None,
        has_next_page=len(remaining) > first,
    )
