"""OpenID Connect id_tokens for SMART apps (`openid`, `fhirUser`): signed with the same keys
as access tokens, for the app (`aud` is its client_id), saying who the user is and nothing
more. `fhirUser` is the FHIR resource standing for the user (permissions/smart.py)."""

from __future__ import annotations

from typing import Any

from joserfc import jwt

from api.oauth.signing import ALG
from api.oauth.tokens import AccessTokens
from models import Patient, User
from permissions.smart import FHIR_USER, FhirUser


async def fhir_user(user: User, fhir_base: str) -> str:
    """The absolute URL of the user's FHIR resource: a patient's own record, else the
    resource type their role stands as, by the user's public id."""
    kind = FHIR_USER[user.role]
    if kind is FhirUser.PATIENT:
        own = await Patient.filter(user_id=user.id).first().values_list("public_id", flat=True)
        if own is None:
            # A patient account with no record of its own acts for others (a proxy).
            return f"{fhir_base}/{FhirUser.RELATED_PERSON.value}/{user.public_id}"
        return f"{fhir_base}/{kind.value}/{own}"
    return f"{fhir_base}/{kind.value}/{user.public_id}"


def mint_id_token(
    tokens: AccessTokens, client_id: str, user: User, nonce: str | None, fhir_user: str | None
) -> str:
    """Synchronous, like `AccessTokens.mint`: the keys are loaded already."""
    kid, key = tokens.keys.signer()
    now = int(tokens.clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": tokens.issuer,
        "sub": user.public_id,
        "aud": client_id,
        "iat": now,
        "exp": now + int(tokens.lifetime.total_seconds()),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if fhir_user is not None:
        claims["fhirUser"] = fhir_user
    return jwt.encode({"alg": ALG, "typ": "JWT", "kid": kid}, claims, key, algorithms=[ALG])
