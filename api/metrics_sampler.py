"""Samples what is a state rather than an event: sealing lag and database pool use, into the
gauges of observe/metrics.py, every few seconds while metrics are on. Each worker samples; the
lag gauges take the largest live value across workers, the pool gauges their sum."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from api.db_state import pool_use
from audit.lag import sealing_lag
from observe import metrics

log = logging.getLogger("phigate.metrics")
INTERVAL = timedelta(seconds=5)


async def sample() -> None:
    lag = await sealing_lag()
    metrics.UNSEALED_ROWS.set(lag.rows)
    metrics.OLDEST_UNSEALED.set(lag.oldest_seconds)
    pool = pool_use()
    if pool is not None:
        metrics.DB_POOL.labels("in_use").set(pool.in_use)
        metrics.DB_POOL.labels("idle").set(pool.idle)
        metrics.DB_POOL.labels("max").set(pool.max)


async def _run(stop: asyncio.Event, interval: timedelta) -> None:
    while not stop.is_set():
        try:
            await sample()
        except Exception as exc:
            log.warning("metrics sampling failed (%s)", type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval.total_seconds())


@contextlib.asynccontextmanager
async def sampling(enabled: bool, interval: timedelta = INTERVAL) -> AsyncIterator[None]:
    if not enabled:
        yield
        return
    stop = asyncio.Event()
    task = asyncio.create_task(_run(stop, interval))
    try:
        yield
    finally:
        stop.set()
        await task
