"""What the HSM and KMS providers need to know, apart from their libraries: the settings can
name a provider without importing a PKCS#11 binding or boto3 it does not use."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pkcs11Config:
    module: str
    """Path of the vendor's PKCS#11 module (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so)."""
    token_label: str
    key_label: str
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class KmsConfig:
    key_id: str
    """Key id, key ARN, alias name (`alias/phigate`) or alias ARN."""
    region: str
    endpoint_url: str | None = None
    """Only for a KMS-compatible endpoint other than AWS's own (a VPC endpoint, a test
    server); unset, boto3 uses the region's."""
    timeout_seconds: float = 5.0
