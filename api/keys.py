"""Chooses the key provider from the settings."""

from __future__ import annotations

from api.settings import ConfigError, Settings
from crypto.provider import (
    KeyProvider,
    LocalKeyProvider,
    decode_master_key,
    load_or_create_master_key_file,
)


def key_provider(settings: Settings) -> KeyProvider:
    if settings.master_key is not None:
        try:
            return LocalKeyProvider(decode_master_key(settings.master_key))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if settings.production:
        raise ConfigError("PHIGATE_MASTER_KEY is required in production")
    # Development default: a key generated on first run, kept beside the database, never committed.
    return LocalKeyProvider(load_or_create_master_key_file(settings.master_key_file))
