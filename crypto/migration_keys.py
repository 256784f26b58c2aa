"""The data keys as a migration reads them: on its own connection, in raw SQL (the ORM
models describe the latest schema, not the one the migration sees), unwrapped by the key
provider `phigate migrate` runs with."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from crypto.errors import WrongProvider
from crypto.keyring import Keyring
from crypto.provider import KeyProvider

MIGRATION_PROVIDER: ContextVar[KeyProvider | None] = ContextVar(
    "phigate_migration_provider", default=None
)
"""The key provider `phigate migrate` runs with: a migration that seals existing plaintext
values (0013) needs the current data key, and refuses to run on data without one."""

_DATA, _INDEX = "data", "blind_index"


def wrap_context(purpose: str, version: int) -> str:
    """What a wrapped key is bound to: a row swapped in `data_key` fails to unwrap."""
    return f"phigate-data-key|{purpose}|{version}"


async def migration_keyring(connection: Any) -> Keyring | None:
    """The keyring, read on a migration's connection; None on a database without data keys
    yet. Raises LookupError when keys exist but no provider was given."""
    rows = await connection.execute_query_dict(
        "SELECT purpose, version, provider, wrapped FROM data_key"
        " WHERE purpose IN ('data', 'blind_index')"
    )
    if not rows:
        return None
    provider = MIGRATION_PROVIDER.get()
    if provider is None:
        raise LookupError("this migration seals existing values: run it with the master key")
    keys: dict[str, dict[int, bytes]] = {_DATA: {}, _INDEX: {}}
    for row in rows:
        purpose, version = row["purpose"], row["version"]
        if row["provider"] != provider.name:
            raise WrongProvider(row["provider"], provider.name)
        keys[purpose][version] = provider.unwrap(
            bytes(row["wrapped"]), wrap_context(purpose, version)
        )
    data, index = keys[_DATA], keys[_INDEX]
    return Keyring(data, primary=max(data), index_key=index[max(index)])
