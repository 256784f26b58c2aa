"""The WebAuthn relying party (py_webauthn): options to send a browser, and the checks on what
comes back (challenge, origin, RP id, user verification, signature, sign counter)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorAttachment,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from models import Passkey, User

RP_NAME = "phigate"


class PasskeyRefused(Exception):
    """The browser's answer failed a check; which one is not told to the client."""


def _descriptors(passkeys: Sequence[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.credential_id)) for p in passkeys]


class RelyingParty:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        hostname = urlsplit(origin).hostname
        assert hostname is not None  # settings accept https:// URLs only
        self.rp_id = hostname

    def registration_options(self, user: User, existing: Sequence[Passkey]) -> tuple[Any, str]:
        """(options as the browser's JSON, the challenge to keep)."""
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=RP_NAME,
            user_name=user.username,
            user_id=user.public_id.encode(),
            authenticator_selection=AuthenticatorSelectionCriteria(
                # Touch ID, Face ID, Windows Hello: the device the user signs in on.
                authenticator_attachment=AuthenticatorAttachment.PLATFORM,
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=_descriptors(existing),
        )
        return json.loads(options_to_json(options)), bytes_to_base64url(options.challenge)

    def verify_registration(
        self, credential: dict[str, Any], challenge: str
    ) -> VerifiedRegistration:
        try:
            return verify_registration_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise PasskeyRefused from exc

    def authentication_options(self, passkeys: Sequence[Passkey]) -> tuple[Any, str]:
        options = generate_authentication_options(
            rp_id=self.rp_id,
            allow_credentials=_descriptors(passkeys),
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return json.loads(options_to_json(options)), bytes_to_base64url(options.challenge)

    def verify_authentication(
        self, credential: dict[str, Any], challenge: str, passkey: Passkey
    ) -> int:
        """The authenticator's new sign count; refused if it did not grow (a cloned key)."""
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=base64url_to_bytes(challenge),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=True,
            )
        except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
            raise PasskeyRefused from exc
        return verified.new_sign_count
