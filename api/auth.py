"""Authentication seam: turns a request into a `Principal`, or None when it carries none.

The production authenticator recognises no credentials yet (password + TOTP sessions and OAuth2
land in their own modules), so production has no path to PHI without one. Tests pass their own
authenticator to `create_app`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request

from permissions.principal import Principal

Authenticator = Callable[[Request], Awaitable[Principal | None]]


async def no_credentials(_: Request) -> Principal | None:
    return None


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
