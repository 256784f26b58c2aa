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
from models import Patient, User
from permissions.principal import Principal
from permissions.pseudonyms import ReportScope
from permissions.reports import ReportRows, ReportRule
from permissions.rows import RowAccess

CURSOR_LIFETIME = timedelta(hours=1)
_CURSOR_BINDING = "report.cursor|{actor}"


class InvalidCursor(Exception):
    """Not a cursor of this principal, expired, or not a cursor at all."""


async def report_patients(rule: ReportRule, rows: RowAccess) -> QuerySet[Patient]:
    if rule.rows is ReportRows.ROW_ACCESS:
        return await rows.role_scope()
    principal = rows.principal
    # An OAuth2 client's organization comes with its token; a user's from their account.
    organization = principal.organization_pk
    if organization is None and principal.user_pk is not None:
        user = await User.get_or_none(id=principal.user_pk)
        organization = None if user is None else user.organization_id  # type: ignore[attr-defined]
    if organization is None:
        return Patient.filter(id__in=[])
    return Patient.filter(organization_id=organization)


@dataclass(frozen=True, slots=True)
class Page:
    scope: ReportScope
    rows: list[Patient]
    total: int
    end_cursor: str | None
    has_next_page: bool


async def page(
    keyring: Keyring,
    principal: Principal,
    patients: QuerySet[Patient],
    scope: ReportScope,
    first: int,
    after: str | None,
    now: datetime,
) -> Page:
    last = ""
    if after is not None:
        scope, last = open_cursor(keyring, principal, after, now)
    public_ids = await patients.values_list("public_id", flat=True)
    ordered = sorted((scope.pseudonym(str(public_id)), str(public_id)) for public_id in public_ids)
    remaining = [entry for entry in ordered if entry[0] > last]
    chosen = remaining[:first]
    loaded = {
        row.public_id: row for row in await Patient.filter(public_id__in=[p for _, p in chosen])
    }
    rows = [loaded[public_id] for _, public_id in chosen if public_id in loaded]
    return Page(
        scope=scope,
        rows=rows,
        total=len(ordered),
        end_cursor=seal_cursor(keyring, principal, scope, chosen[-1][0], now) if chosen else None,
        has_next_page=len(remaining) > first,
    )


def seal_cursor(
    keyring: Keyring, principal: Principal, scope: ReportScope, last: str, now: datetime
) -> str:
    payload = {
        "key": base64.b64encode(scope.key).decode(),
        "after": last,
        "expires": int((now + CURSOR_LIFETIME).timestamp()),
    }
    sealed = keyring.seal(json.dumps(payload), _CURSOR_BINDING.format(actor=principal.actor))
    return base64.urlsafe_b64encode(sealed.blob).decode()


def open_cursor(
    keyring: Keyring, principal: Principal, cursor: str, now: datetime
) -> tuple[ReportScope, str]:
    try:
        blob = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True)
        sealed = Sealed(blob, _CURSOR_BINDING.format(actor=principal.actor))
        payload = json.loads(keyring.open(sealed))
        scope = ReportScope(base64.b64decode(payload["key"], validate=True))
        last, expires = str(payload["after"]), int(payload["expires"])
    except (binascii.Error, ValueError, KeyError, TypeError, CryptoError):
        raise InvalidCursor() from None
    if expires < now.timestamp():
        raise InvalidCursor()
    return scope, last
