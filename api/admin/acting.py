"""Who makes an administrative change, and the event that records it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from audit.events import Actor, AdminEvent, record_event
from ops.audit import OPERATOR
from permissions.principal import Principal


class AdminError(Exception):
    """A change that cannot be made; the message says why, and never quotes a secret."""


class Unknown(AdminError):
    """The account, organization, patient or grant named does not exist (for this caller)."""


@dataclass(frozen=True, slots=True)
class Acting:
    actor: Actor
    request_id: str
    ip: str | None = None
    user_pk: int | None = None
    """The acting user's database key; None for the command line's operator."""
    client: str | None = None

    @classmethod
    def of(cls, principal: Principal) -> Acting:
        return cls(
            Actor(principal.actor, principal.role.value),
            principal.request_id,
            principal.ip,
            principal.user_pk,
            principal.client,
        )

    @classmethod
    def operator(cls) -> Acting:
        """Whoever runs `phigate` on the server: its OS account is the actor."""
        return cls(OPERATOR, f"op_{secrets.token_hex(8)}")

    async def record(
        self,
        event: AdminEvent,
        at: datetime,
        target: str,
        *,
        patient: str | None = None,
        detail: str | None = None,
    ) -> None:
        """`target`: the public id acted on; `detail`: what changed (a role, a scope)."""
        text = f"target={target}" if detail is None else f"target={target} {detail}"
        await record_event(
            event, self.actor, at=at, request_id=self.request_id, ip=self.ip,
            detail=text[:400], client=self.client, patient=patient,
        )  # fmt: skip
