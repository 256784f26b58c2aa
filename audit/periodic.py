"""Background work a server process repeats beside the app (the audit sealer, the report
tally): every interval until the app stops, a failed run counted, logged by type and retried."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from prometheus_client import Counter

from audit.health import Streak


@contextlib.asynccontextmanager
async def repeated(
    work: Callable[[], Awaitable[None]],
    interval: timedelta,
    failures: Counter,
    log: logging.Logger,
    what: str,
    *,
    first_at_once: bool = True,
) -> AsyncIterator[Streak]:
    """Runs `work` every `interval` while the block runs (a zero interval: never, the command
    line does it), the first time at once or after one interval; yields how its runs go
    (readiness, api/health.py)."""
    runs = Streak()
    if not interval:
        yield runs
        return
    stop = asyncio.Event()

    async def pause() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval.total_seconds())

    async def loop() -> None:
        if not first_at_once:
            await pause()
        while not stop.is_set():
            try:
                await work()
                runs.succeeded()
            except Exception as exc:
                runs.failed()
                failures.inc()
                # By type only: driver messages may quote statements. Retried next round.
                log.error("%s failed (%s); will retry", what, type(exc).__name__)
            await pause()

    task = asyncio.create_task(loop())
    try:
        yield runs
    finally:
        stop.set()
        await task
