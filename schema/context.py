"""The per-request context every resolver and the guard receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.buffer import AuditBuffer
from crypto.keyring import Keyring
from permissions.principal import Principal
from permissions.rows import RowAccess
from permissions.safeguards import DEFAULT_SAFEGUARDS, Safeguards
from resolvers.loaders import Loaders
from schema.guard import PhiSession


@dataclass(slots=True)
class RequestContext:
    principal: Principal
    phi: PhiSession
    rows: RowAccess
    safeguards: Safeguards = DEFAULT_SAFEGUARDS
    loaders: Loaders = field(default_factory=Loaders)

    @classmethod
    def create(
        cls, principal: Principal, keyring: Keyring, safeguards: Safeguards = DEFAULT_SAFEGUARDS
    ) -> RequestContext:
        budget = safeguards.export_budget[principal.role]
        return cls(
            principal=principal,
            phi=PhiSession(principal, keyring, AuditBuffer(principal, budget)),
            rows=RowAccess(principal),
            safeguards=safeguards,
        )
