"""Each worker keeps asking the key provider whether it still answers, and stops serving PHI
while it does not.

The data keys are unwrapped once, at startup; a worker could go on opening values long after
the HSM was unplugged or the KMS key disabled. That is the wrong way to fail for a provider
whose point is that access to the keys can be cut off there: so every `check_interval` the
worker has the provider unwrap a probe (a random value it wrapped at startup, under a context
of its own). While that fails or takes longer than the interval, the keyring is suspended
(every seal, open and blind index refused: PHI fields come back PHI_UNAVAILABLE, GraphQL
requests are refused with 503) and `/readyz` answers 503, so the load balancer moves traffic
to a worker whose provider answers. The first probe that succeeds again resumes the keyring.

The calls run in a worker thread (an HSM or KMS call blocks), one at a time: a probe still
running when the next is due counts as a failure rather than piling up threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

from api.background import alongside
from crypto.errors import CryptoError
from crypto.keyring import Keyring
from crypto.provider import KeyProvider

log = logging.getLogger("phigate.keys")

_PROBE_CONTEXT = "phigate-provider-probe"


class ProviderWatch:
    def __init__(self, provider: KeyProvider, keyring: Keyring, every: timedelta) -> None:
        self._provider = provider
        self._keyring = keyring
        self._seconds = every.total_seconds()
        self._secret = secrets.token_bytes(32)
        self._probe = b""
        self._pending: asyncio.Future[bytes] | None = None

    @property
    def answering(self) -> bool:
        return not self._keyring.suspended

    async def start(self) -> None:
        """Wrap the probe; raises what the provider raises (startup then fails)."""
        self._probe = await asyncio.to_thread(self._provider.wrap, self._secret, _PROBE_CONTEXT)

    async def check(self) -> bool:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(
                asyncio.to_thread(self._provider.unwrap, self._probe, _PROBE_CONTEXT)
            )
            # Its failure is read here or, after a timeout, by nobody: mark it as seen.
            self._pending.add_done_callback(_seen)
        try:
            async with asyncio.timeout(self._seconds):
                ok = await asyncio.shield(self._pending) == self._secret
        except (CryptoError, TimeoutError):
            ok = False
        self._record(ok)
        return ok

    def _record(self, ok: bool) -> None:
        if ok and self._keyring.suspended:
            self._keyring.resume()
            log.warning("key provider %s answers again: PHI served again", self._provider.name)
        elif not ok and not self._keyring.suspended:
            self._keyring.suspend()
            log.error(
                "key provider %s does not answer: PHI refused until it does", self._provider.name
            )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            await self.check()


def _seen(future: asyncio.Future[bytes]) -> None:
    if not future.cancelled():
        future.exception()


@contextlib.asynccontextmanager
async def watching(watch: ProviderWatch) -> AsyncIterator[None]:
    await watch.start()
    async with alongside(watch.run()):
        yield
