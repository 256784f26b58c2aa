"""Data keys at rest: wrapped by the key provider, stored in `data_key`, unwrapped at startup."""

from __future__ import annotations

import secrets

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from crypto.audit_mac import AuditKeys
from crypto.errors import WrongProvider
from crypto.keyring import Keyring
from crypto.migration_keys import wrap_context
from crypto.provider import KeyProvider
from models.keys import DataKey, KeyPurpose

DATA_KEY_BYTES = 32


def key_context(purpose: KeyPurpose, version: int) -> str:
    # Binds a wrapped key to its purpose and version: a row swapped in the table fails to unwrap.
    return wrap_context(purpose.value, version)


def signing_context(kid: str) -> str:
    # Binds a wrapped OAuth signing key to its kid: a row swapped in the table fails to unwrap.
    return f"phigate-signing-key|{kid}"


async def _create_initial_keys(provider: KeyProvider) -> None:
    try:
        async with in_transaction():
            for purpose in KeyPurpose:
                if await DataKey.exists(purpose=purpose):
                    continue
                key = secrets.token_bytes(DATA_KEY_BYTES)
                await DataKey.create(
                    purpose=purpose,
                    version=1,
                    provider=provider.name,
                    wrapped=provider.wrap(key, key_context(purpose, 1)),
                )
    except IntegrityError:
        # Another worker created them first; theirs are the keys.
        pass


_KEYRING_PURPOSES = (KeyPurpose.DATA, KeyPurpose.BLIND_INDEX)


def unwrap_stored(provider: KeyProvider, wrapped_by: str, wrapped: bytes, context: str) -> bytes:
    """Unwrap a stored key, saying so plainly if another provider wrapped it (a switch to an
    HSM/KMS whose `phigate keys rewrap` has not run): that is not a wrong key."""
    if wrapped_by != provider.name:
        raise WrongProvider(wrapped_by, provider.name)
    return provider.unwrap(wrapped, context)


async def _unwrap_all(
    provider: KeyProvider, rows: list[DataKey]
) -> tuple[dict[int, bytes], dict[int, bytes]]:
    data: dict[int, bytes] = {}
    index: dict[int, bytes] = {}
    for row in rows:
        key = unwrap_stored(
            provider, row.provider, row.wrapped, key_context(row.purpose, row.version)
        )
        (data if row.purpose is KeyPurpose.DATA else index)[row.version] = key
    return data, index


async def load_keyring(provider: KeyProvider) -> Keyring:
    """Unwrap every data key, creating the first versions on a new database."""
    rows = await DataKey.filter(purpose__in=_KEYRING_PURPOSES)
    if not rows:
        await _create_initial_keys(provider)
        rows = await DataKey.filter(purpose__in=_KEYRING_PURPOSES)
    data, index = await _unwrap_all(provider, rows)
    return Keyring(data, primary=max(data), index_key=index[max(index)])


async def refresh_keyring(keyring: Keyring, provider: KeyProvider) -> None:
    """Teach a running keyring the data key versions created since it was loaded.

    One indexed query on a tiny table; only new versions are fetched and unwrapped.
    """
    known = await DataKey.filter(purpose=KeyPurpose.DATA).values_list("version", flat=True)
    new = set(known) - keyring.versions
    if new:
        rows = await DataKey.filter(purpose=KeyPurpose.DATA, version__in=sorted(new))
        data, _ = await _unwrap_all(provider, rows)
        keyring.learn(data)


async def next_data_key_version() -> int:
    latest = await DataKey.filter(purpose=KeyPurpose.DATA).order_by("-version").first()
    return (latest.version if latest else 0) + 1


async def create_data_key(provider: KeyProvider, version: int) -> DataKey:
    """Insert DATA key `version` (wrapped), normally `next_data_key_version()` read beforehand.

    Two concurrent rotations compute the same version: the unique (purpose, version) constraint
    lets one win and the other fail with IntegrityError. Reading the version outside the
    inserting transaction matters on SQLite: a transaction that reads and then writes fails at
    once (rather than waiting its turn) if another process wrote in between.
    """
    return await DataKey.create(
        purpose=KeyPurpose.DATA,
        version=version,
        provider=provider.name,
        wrapped=provider.wrap(
            secrets.token_bytes(DATA_KEY_BYTES), key_context(KeyPurpose.DATA, version)
        ),
    )


async def load_audit_keys(provider: KeyProvider, *, create: bool = True) -> AuditKeys:
    """The audit seal keys by version; a database from before audit sealing gets its first
    (unless `create` is false: verification never writes)."""
    rows = await DataKey.filter(purpose=KeyPurpose.AUDIT)
    if not rows and create:
        await _create_initial_keys(provider)
        rows = await DataKey.filter(purpose=KeyPurpose.AUDIT)
    return AuditKeys(
        {
            row.version: unwrap_stored(
                provider, row.provider, row.wrapped, key_context(row.purpose, row.version)
            )
            for row in rows
        }
    )
