"""Running workers learn new data key versions without a restart.

`phigate keys rotate` inserts a new version; each worker polls the (tiny) `data_key` table every
`PHIGATE_KEYRING_REFRESH_SECONDS` and adds what is new to its shared keyring. Rotation waits
longer than that interval before re-encrypting any row, so by the time a stored value uses the
new version, every worker can open it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from api.background import alongside
from crypto.keyring import Keyring
from crypto.provider import KeyProvider
from models.keystore import refresh_keyring

log = logging.getLogger("phigate.keys")

MIN_INTERVAL = timedelta(milliseconds=50)


async def _poll(keyring: Keyring, provider: KeyProvider, every: timedelta) -> None:
    seconds = max(every, MIN_INTERVAL).total_seconds()
    while True:
        await asyncio.sleep(seconds)
        try:
            await refresh_keyring(keyring, provider)
        except Exception as exc:
            # The keys already known keep working; the next poll tries again. Type only: a
            # driver message may quote the statement.
            log.warning("keyring refresh failed: %s", type(exc).__name__)


@contextlib.asynccontextmanager
async def refreshing(
    keyring: Keyring, provider: KeyProvider, every: timedelta
) -> AsyncIterator[None]:
    async with alongside(_poll(keyring, provider, every)):
        yield
