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


def client_ip(request: Request) -> str | None:
    """The client address as resolved by the transport guard (trusted proxies applied)."""
    ip: str | None = request.state.client_ip
    return ip
