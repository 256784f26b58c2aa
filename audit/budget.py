"""The export budget: how many distinct patients an actor may read per clock hour (UTC).

The distinct patients of the current hour are rows of `export_window`, added in the same round
trip as the request's audit records (audit/store.py). A request that takes its actor past the
budget is answered like a failed audit write: no data. The first such request of an hour
writes an EXPORT_BUDGET_EXCEEDED security event for review.
"""

from __future__ import annotations

from datetime import UTC, datetime

from audit.events import AuthEvent, record_principal_event
from models import AuditEvent, ExportWindow
from permissions.principal import Principal

_HOUR = 3600


def hour_of(at: datetime) -> int:
    return int(at.timestamp()) // _HOUR


class ExportBudgetExceeded(Exception):
    """The request's patients took its actor past the export budget of the hour."""

    def __init__(self, hour: int) -> None:
        super().__init__("export budget exceeded")
        self.hour = hour


async def alert(principal: Principal, hour: int, at: datetime) -> None:
    """Record the alert, once per actor and hour (a race may add a second: harmless)."""
    start = datetime.fromtimestamp(hour * _HOUR, UTC)
    event = AuthEvent.EXPORT_BUDGET_EXCEEDED
    if await AuditEvent.filter(actor=principal.actor, event=event.value, at__gte=start).exists():
        return
    await record_principal_event(event, principal, at=at)


async def prune_windows(now: datetime) -> None:
    """Windows of past hours count nothing any more."""
    await ExportWindow.filter(hour__lt=hour_of(now)).delete()
