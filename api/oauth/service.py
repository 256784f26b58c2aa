"""One OAuth2 service per application: signing keys, token minting and checking, the database
store and authlib's server, sharing one clock and one issuer."""

from __future__ import annotations

from api.clock import Clock
from api.oauth.server import Server
from api.oauth.signing import SigningKeys
from api.oauth.store import OAuthStore
from api.oauth.tokens import AccessTokens
from api.settings import Settings
from crypto.provider import KeyProvider


class OAuth:
    def __init__(self, settings: Settings, clock: Clock, provider: KeyProvider) -> None:
        self.settings = settings
        self.clock = clock
        self.issuer = settings.oauth_issuer
        self.keys = SigningKeys(provider, clock)
        self.tokens = AccessTokens(
            self.keys, clock, settings.oauth_issuer, settings.access_token_lifetime
        )
        self.store = OAuthStore(clock, self.tokens, settings.refresh_token_lifetime)
        self.server = Server(self.store, self.tokens, settings.oauth_issuer)
