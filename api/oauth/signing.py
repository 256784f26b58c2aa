"""JWT signing keys: an ES256 key pair generated on first use, its private half stored wrapped
by the key provider (like data keys), its public half published in the JWKS by `kid`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from joserfc.jwk import ECKey
from tortoise.transactions import in_transaction

from api.clock import Clock
from crypto.provider import KeyProvider
from models import SigningKey
from models.keystore import signing_context, unwrap_stored

ALG = "ES256"


class SigningKeys:
    """Every live signing key, loaded once per process; the newest one signs."""

    def __init__(self, provider: KeyProvider, clock: Clock) -> None:
        self._provider = provider
        self._clock = clock
        self._keys: dict[str, ECKey] = {}
        self._current: str | None = None
        self._lock = asyncio.Lock()

    async def ready(self) -> None:
        """Load the keys, generating the first one on a new database."""
        if self._current is None:
            await self.reload()

    async def reload(self) -> None:
        async with self._lock:
            rows = await SigningKey.filter(retired_at__isnull=True).order_by("id")
            if not rows:
                await self._generate()
                rows = await SigningKey.filter(retired_at__isnull=True).order_by("id")
            self._keys = {
                row.kid: ECKey.import_key(
                    unwrap_stored(
                        self._provider, row.provider, row.wrapped, signing_context(row.kid)
                    )
                )
                for row in rows
            }
            self._current = rows[-1].kid

    async def _generate(self) -> None:
        key = ECKey.generate_key("P-256")
        kid = key.thumbprint()
        async with in_transaction():
            await SigningKey.create(
                kid=kid,
                alg=ALG,
                provider=self._provider.name,
                wrapped=self._provider.wrap(key.as_der(private=True), signing_context(kid)),
                public_jwk=json.dumps(self._public(kid, key)),
                created_at=self._clock.now(),
            )

    @staticmethod
    def _public(kid: str, key: ECKey) -> dict[str, Any]:
        return dict(key.as_dict(private=False, kid=kid, alg=ALG, use="sig"))

    def signer(self) -> tuple[str, ECKey]:
        if self._current is None:
            raise RuntimeError("signing keys are not loaded")
        return self._current, self._keys[self._current]

    async def find(self, kid: str) -> ECKey | None:
        """The key with this kid; another worker may have made it since we loaded."""
        if kid not in self._keys:
            await self.reload()
        return self._keys.get(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self._public(kid, key) for kid, key in self._keys.items()]}
