"""Key wrapping by an AES-256 key held in an HSM, through its PKCS#11 module.

The key-encryption key is created on the token sensitive and not extractable: it never leaves
the HSM. A data key is wrapped by C_Encrypt with CKM_AES_GCM (a random 96-bit IV, the wrapping
context as additional authenticated data, a 128-bit tag), so a wrapped key moved to another
purpose, version or backup fails to unwrap, as with the local provider. Stored form: IV, then
the token's ciphertext and tag.

One logged-in session per process, used under a lock (a PKCS#11 session is not to be used by
two threads at once). The module is loaded on first use, not when the provider is made: a
PKCS#11 module must be initialised by the process that calls it, and the server's workers are
processes of their own (python-pkcs11 loads each module once per process).
A call that fails is tried once more on a fresh session, so an HSM that restarted or a handle
that went stale heals by itself; if the session cannot be had, the provider is unavailable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass, Session
from pkcs11.exceptions import NoSuchKey, PinIncorrect, PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams

from crypto.errors import KeyUnavailable, ProviderUnavailable
from crypto.provider_config import Pkcs11Config

KEK_BITS = 256
_IV_BYTES = 12
_TAG_BITS = 128
T = TypeVar("T")
_UNREACHABLE = (PKCS11Error, OSError, RuntimeError)
"""What python-pkcs11 raises for no module, no token, a wrong PIN or no key (its errors are
RuntimeErrors; a module that cannot be loaded is an OSError)."""
_KEK_TEMPLATE = {
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.ENCRYPT: True,
    Attribute.DECRYPT: True,
    Attribute.WRAP: False,
    Attribute.UNWRAP: False,
}
_Kek = Any
"""The token's AES key object (python-pkcs11 types it as a key without its encrypt mixin)."""


class Pkcs11KeyProvider:
    name = "pkcs11"

    def __init__(self, config: Pkcs11Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._key: _Kek | None = None

    def wrap(self, key: bytes, context: str) -> bytes:
        iv = os.urandom(_IV_BYTES)

        def encrypt(kek: _Kek) -> bytes:
            return iv + bytes(
                kek.encrypt(key, mechanism=Mechanism.AES_GCM, mechanism_param=_gcm(iv, context))
            )

        try:
            return self._call(encrypt)
        except PKCS11Error:
            raise ProviderUnavailable() from None

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        iv, body = wrapped[:_IV_BYTES], wrapped[_IV_BYTES:]

        def decrypt(kek: _Kek) -> bytes:
            return bytes(
                kek.decrypt(body, mechanism=Mechanism.AES_GCM, mechanism_param=_gcm(iv, context))
            )

        try:
            return self._call(decrypt)
        except PKCS11Error:
            # The token answered on a fresh session and still refused: the tag did not verify
            # (another key, or a wrapped key moved to another context).
            raise KeyUnavailable() from None

    def create_key(self) -> bool:
        """Generate the key-encryption key on the token unless one has its label; True if
        created. Sensitive and not extractable: the token never hands it out."""
        with self._lock:
            self._reset()
            try:
                session = self._open()
                try:
                    self._find(session)
                    return False
                except NoSuchKey:
                    session.generate_key(
                        KeyType.AES,
                        KEK_BITS,
                        label=self._config.key_label,
                        store=True,
                        template=_KEK_TEMPLATE,
                    )
                    return True
            except _UNREACHABLE:
                raise ProviderUnavailable() from None
            finally:
                self._reset()

    def _call(self, operation: Callable[[_Kek], T]) -> T:
        with self._lock:
            try:
                return operation(self._kek())
            except PKCS11Error:
                self._reset()
            # Once more on a new session: a stale handle or a restarted HSM is not an outage.
            return operation(self._kek())

    def _kek(self) -> _Kek:
        if self._key is None:
            try:
                self._key = self._reach()
            except PinIncorrect:
                # Never tried twice: a token locks its PIN after a few wrong ones.
                self._reset()
                raise ProviderUnavailable() from None
            except _UNREACHABLE:
                self._reset()
                # A token that went away stays gone for its module until the module is
                # initialised again (SoftHSM2 and many HSM modules do this): try once more.
                try:
                    pkcs11.lib(self._config.module).reinitialize()
                    self._key = self._reach()
                except _UNREACHABLE:
                    # No module, no token with the label, no key with the label.
                    self._reset()
                    raise ProviderUnavailable() from None
        return self._key

    def _reach(self) -> _Kek:
        return self._find(self._open())

    def _open(self) -> Session:
        token = pkcs11.lib(self._config.module).get_token(token_label=self._config.token_label)
        try:
            self._session = token.open(user_pin=self._config.pin, rw=True)
        except UserAlreadyLoggedIn:
            # A login is the process's, not the session's: another provider object on this
            # token (a second app in one process) logged in already.
            self._session = token.open(rw=True)
        return self._session

    def _find(self, session: Session) -> _Kek:
        key = session.get_key(
            object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=self._config.key_label
        )
        return key

    def _reset(self) -> None:
        session, self._session, self._key = self._session, None, None
        if session is not None:
            with suppress(PKCS11Error):
                session.close()


def _gcm(iv: bytes, context: str) -> GCMParams:
    return GCMParams(iv, context.encode(), _TAG_BITS)
