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
