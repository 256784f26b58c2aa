"""Failed-attempt throttling: back off after a few failures, then lock for a while.

Keys are strings such as `user:<SHA-256 of the name>` whether or not that account exists, and
the answer for a locked key is the same either way, so throttling never confirms a username.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import F

from api.clock import Clock
from models import Throttle

MAX_BACKOFF = timedelta(seconds=30)


class Throttled(Exception):
    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Limits:
    threshold: int
    """Failures that lock the key."""
    lockout: timedelta
    slow_after: int
    """Failures after which each further attempt must wait 1, 2, 4... seconds."""


class Throttles:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def check(self, limits: Mapping[str, Limits]) -> None:
        """Raise Throttled if any key is locked or still in its back-off window."""
        now = self.clock.now()
        rows = await Throttle.filter(key__in=list(limits))
        locks = [row.locked_until for row in rows if row.locked_until and row.locked_until > now]
        if locks:
            raise Throttled("locked", _seconds(max(locks) - now))
        waits = [
            row.last_failure_at + _backoff(row.failures, limits[row.key]) - now
            for row in rows
            if row.failures >= limits[row.key].slow_after
        ]
        if waits and max(waits) > timedelta(0):
            raise Throttled("slow_down", _seconds(max(waits)))

    async def failure(self, key: str, limits: Limits) -> bool:
        """Count a failure; True when this one locks the key."""
        now = self.clock.now()
        row, _ = await Throttle.get_or_create(key=key, defaults={"last_failure_at": now})
        if row.locked_until is not None and row.locked_until <= now:
            # A served lockout starts a fresh count.
            await Throttle.filter(id=row.id).update(failures=0, locked_until=None)
        await Throttle.filter(id=row.id).update(failures=F("failures") + 1, last_failure_at=now)
        await row.refresh_from_db()
        if row.failures >= limits.threshold:
            await Throttle.filter(id=row.id).update(locked_until=now + limits.lockout)
            return True
        return False

    async def clear(self, key: str) -> None:
        await Throttle.filter(key=key).delete()


def _backoff(failures: int, limits: Limits) -> timedelta:
    return min(timedelta(seconds=2 ** (failures - limits.slow_after)), MAX_BACKOFF)


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds() + 0.999))
