"""Chooses the key provider from the settings (`PHIGATE_KEY_PROVIDER`)."""

from __future__ import annotations

from api.settings import ConfigError, ProviderKind, Settings
from crypto.provider import (
    KeyProvider,
    LocalKeyProvider,
    decode_master_key,
    load_or_create_master_key_file,
)


def key_provider(settings: Settings, kind: ProviderKind | None = None) -> KeyProvider:
    """The configured provider, or the one of `kind` (the old one, when re-wrapping). Making
    it contacts nothing: an HSM or KMS is first called when a key is wrapped or unwrapped."""
    kind = kind or settings.key_custody.kind
    if kind is ProviderKind.PKCS11:
        return _pkcs11(settings)
    if kind is ProviderKind.AWS_KMS:
        return _kms(settings)
    return _local(settings, create=kind is settings.key_custody.kind)


def _local(settings: Settings, *, create: bool) -> KeyProvider:
    if settings.master_key is not None:
        try:
            return LocalKeyProvider(decode_master_key(settings.master_key))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if settings.production:
        raise ConfigError("PHIGATE_MASTER_KEY is required in production")
    if not create and not settings.master_key_file.exists():
        # The old key of a deployment moving to an HSM/KMS: a new one would open nothing.
        raise ConfigError("no local master key (PHIGATE_MASTER_KEY or the data folder's file)")
    # Development default: a key generated on first run, kept beside the database, never committed.
    return LocalKeyProvider(load_or_create_master_key_file(settings.master_key_file))


def _pkcs11(settings: Settings) -> KeyProvider:
    config = settings.key_custody.pkcs11
    if config is None:
        raise ConfigError("PHIGATE_PKCS11_MODULE is required for the PKCS#11 key provider")
    try:
        from crypto.pkcs11_provider import Pkcs11KeyProvider
    except ImportError:
        raise ConfigError("the PKCS#11 key provider needs python-pkcs11 (phigate[hsm])") from None
    return Pkcs11KeyProvider(config)


def _kms(settings: Settings) -> KeyProvider:
    config = settings.key_custody.kms
    if config is None:
        raise ConfigError("PHIGATE_KMS_KEY_ID is required for the AWS KMS key provider")
    try:
        from crypto.kms_provider import KmsKeyProvider
    except ImportError:
        raise ConfigError("the AWS KMS key provider needs boto3 (phigate[kms])") from None
    return KmsKeyProvider(config)
