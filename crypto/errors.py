"""Crypto failures. Messages are fixed strings: they never carry key material or plaintext."""


class CryptoError(Exception):
    """Base class: a value could not be sealed or opened."""


class KeyUnavailable(CryptoError):
    def __init__(self) -> None:
        super().__init__("data key unavailable")


class SealBroken(CryptoError):
    """The ciphertext was altered, or belongs to another column, row or key version."""

    def __init__(self) -> None:
        super().__init__("sealed value failed authentication")


class ProviderUnavailable(CryptoError):
    """The key provider (HSM, KMS) did not answer or refused the call: nothing can be wrapped
    or unwrapped until it does."""

    def __init__(self) -> None:
        super().__init__("key provider unavailable")


class WrongProvider(CryptoError):
    """A stored key was wrapped by another provider than the one configured (a switch to an
    HSM/KMS whose `phigate keys rewrap` has not run yet)."""

    def __init__(self, wrapped_by: str, configured: str) -> None:
        super().__init__("key wrapped by another key provider")
        # Provider names (`local`, `pkcs11`, `aws-kms`): configuration, never key material.
        self.wrapped_by = wrapped_by
        self.configured = configured
