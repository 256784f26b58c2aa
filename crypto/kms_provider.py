"""Key wrapping by an AWS KMS key: Encrypt and Decrypt calls, the key never leaves KMS.

The wrapping context is the EncryptionContext (`{"phigate": context}`): KMS binds it to the
ciphertext as authenticated data, so a wrapped key moved to another purpose, version or backup
fails to decrypt, and CloudTrail logs which context each call was for. Decrypt names the key
too, so a ciphertext made under another key is refused rather than followed.

Credentials come from boto3's usual chain (environment, shared config, instance or task role);
they are never settings of ours. Timeouts and retries are short: a KMS that does not answer is
reported unavailable within seconds, not after boto3's minute of retries.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from crypto.errors import KeyUnavailable, ProviderUnavailable
from crypto.provider_config import KmsConfig

CONTEXT_KEY = "phigate"
_REFUSED_CIPHERTEXT = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


class KmsKeyProvider:
    name = "aws-kms"

    def __init__(self, config: KmsConfig) -> None:
        self._key_id = config.key_id
        # boto3 clients are thread-safe: wraps and unwraps run in worker threads.
        self._client: Any = boto3.session.Session().client(
            "kms",
            region_name=config.region,
            endpoint_url=config.endpoint_url,
            config=Config(
                connect_timeout=config.timeout_seconds,
                read_timeout=config.timeout_seconds,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def wrap(self, key: bytes, context: str) -> bytes:
        try:
            response = self._client.encrypt(
                KeyId=self._key_id, Plaintext=key, EncryptionContext={CONTEXT_KEY: context}
            )
        except (BotoCoreError, ClientError):
            raise ProviderUnavailable() from None
        return bytes(response["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        try:
            response = self._client.decrypt(
                KeyId=self._key_id,
                CiphertextBlob=wrapped,
                EncryptionContext={CONTEXT_KEY: context},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _REFUSED_CIPHERTEXT:
                raise KeyUnavailable() from None
            # Denied, disabled, pending deletion, throttled, unreachable region: an outage.
            raise ProviderUnavailable() from None
        except BotoCoreError:
            raise ProviderUnavailable() from None
        return bytes(response["Plaintext"])
