"""SMART App Launch discovery: `/.well-known/smart-configuration`, and the `security` part
of the FHIR CapabilityStatement. Both list only what this server does."""

from __future__ import annotations

from typing import Any

from api.oauth.server import AUTH_METHODS, CLIENT_ASSERTION_ALGS, PKCE_METHOD
from permissions.scopes import ALL_SCOPES
from permissions.smart import supported_scopes

GRANT_TYPES = ["authorization_code", "client_credentials", "refresh_token"]
CAPABILITIES = [
    "launch-standalone",
    "context-standalone-patient",
    "client-public",
    "client-confidential-symmetric",
    "permission-v1",
    "permission-v2",
    "permission-patient",
    "permission-user",
    "permission-offline",
]
"""Not claimed: EHR launch (no `launch` parameter), `client-confidential-asymmetric` (SMART
asks for RS384 and ES384 client assertions; the algorithms taken are CLIENT_ASSERTION_ALGS),
`sso-openid-connect` (id_tokens are ES256 and there is no openid-configuration document)."""
_OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"


def _endpoints(issuer: str) -> dict[str, str]:
    return {
        "authorize": f"{issuer}/oauth/authorize",
        "token": f"{issuer}/oauth/token",
        "revoke": f"{issuer}/oauth/revoke",
        "introspect": f"{issuer}/oauth/introspect",
    }


def smart_configuration(issuer: str) -> dict[str, Any]:
    endpoints = _endpoints(issuer)
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "authorization_endpoint": endpoints["authorize"],
        "token_endpoint": endpoints["token"],
        "revocation_endpoint": endpoints["revoke"],
        "introspection_endpoint": endpoints["introspect"],
        "grant_types_supported": GRANT_TYPES,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": [PKCE_METHOD],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "scopes_supported": [*supported_scopes(), *ALL_SCOPES],
        "capabilities": CAPABILITIES,
    }


def capability_security(issuer: str) -> dict[str, Any]:
    """`CapabilityStatement.rest[0].security` for the FHIR facade: the SMART oauth-uris
    extension and the SMART-on-FHIR service."""
    endpoints = _endpoints(issuer)
    return {
        "extension": [
            {
                "url": _OAUTH_URIS,
                "extension": [
                    {"url": name, "valueUri": endpoints[name]}
                    for name in ("authorize", "token", "revoke", "introspect")
                ],
            }
        ],
        "service": [
            {
                "coding": [{"system": _SERVICE, "code": "SMART-on-FHIR"}],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
    }
