"""Moving a deployment's keys to another key provider (local master key -> HSM or KMS).

Every stored wrapped key (data, blind-index and audit keys; OAuth signing keys) still wrapped
by the old provider is unwrapped by it and wrapped again by the new one, in one transaction
with its audit record: either every key moves, or none does. The data keys themselves do not
change, so no sealed value is rewritten. Keys already under the new provider are left alone,
so a second run (after one that failed half-way through its calls) finishes the job.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from audit.events import OpsEvent
from crypto.provider import KeyProvider
from models import SigningKey
from models.keys import DataKey
from models.keystore import key_context, signing_context
from ops.audit import record_operation


@dataclass(frozen=True, slots=True)
class Rewrapped:
    data_keys: int
    signing_keys: int
    """Rows already under the new provider, untouched."""
    already: int

    def describe(self, source: str, target: str) -> str:
        return (
            f"{self.data_keys} data keys and {self.signing_keys} signing keys re-wrapped from "
            f"{source} to {target} ({self.already} already under {target})"
        )


async def rewrap(source: KeyProvider, target: KeyProvider, operation: str) -> Rewrapped:
    async with in_transaction():
        data_keys = await DataKey.filter(provider=source.name).select_for_update()
        signing_keys = await SigningKey.filter(provider=source.name).select_for_update()
        for key in data_keys:
            await _move(key, key_context(key.purpose, key.version), source, target)
        for signing in signing_keys:
            await _move(signing, signing_context(signing.kid), source, target)
        moved = len(data_keys) + len(signing_keys)
        already = await DataKey.filter(provider=target.name).count()
        already += await SigningKey.filter(provider=target.name).count()
        done = Rewrapped(len(data_keys), len(signing_keys), already - moved)
        await record_operation(
            OpsEvent.KEYS_REWRAPPED, done.describe(source.name, target.name), operation=operation
        )
    return done


async def _move(
    row: DataKey | SigningKey, context: str, source: KeyProvider, target: KeyProvider
) -> None:
    row.wrapped = target.wrap(source.unwrap(row.wrapped, context), context)
    row.provider = target.name
    await row.save(update_fields=["wrapped", "provider"])
