"""Authentication: turns a request into a `Principal`, or refuses it with a reason."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from permissions.principal import Principal

Authenticator = Callable[[Request], Awaitable[Principal | None]]
"""Returns the principal, None when the request carries no credentials, or raises AuthRejected."""


class AuthRejected(Exception):
    """Credentials were presented but do not authenticate; `reason` is machine-readable."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


_NOT_PRESENTED = frozenset({"missing_credentials", "login_required"})


def challenge(rejected: str | None = None) -> dict[str, str]:
    """The `WWW-Authenticate` header of a 401 (RFC 6750 3): a bearer token is what phigate
    takes. `rejected`: why presented credentials were refused (a machine-readable reason, never
    a value sent); a request that presented none gets no error code, as 3.1 asks."""
    value = 'Bearer realm="phigate"'
    if rejected is not None and rejected not in _NOT_PRESENTED:
        value += f', error="invalid_token", error_description="{rejected}"'
    return {"www-authenticate": value}


def client_ip(request: Request) -> str | None:
    """The client address as resolved by the transport guard (trusted proxies applied)."""
    ip: str | None = request.state.client_ip
    return ip
