"""The per-request context every resolver and the guard receive."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.buffer import AuditBuffer
from audit.writes import AuditedWrites
from crypto.keyring import Keyring
from permissions.decisions import Access, FieldPlans
from permissions.principal import Principal
from permissions.safeguards import DEFAULT_SAFEGUARDS, Safeguards
from resolvers.loaders import Loaders
from schema.session import PhiSession


@dataclass(slots=True)
class RequestContext:
    principal: Principal
    phi: PhiSession
    access: Access
    """Every PHI decision a resolver needs, and the rows the principal may load."""
    safeguards: Safeguards = DEFAULT_SAFEGUARDS
    loaders: Loaders = field(default_factory=Loaders)
    idempotency_key: str | None = None
    """The request's `Idempotency-Key` header: a retried mutation answers its first result."""

    @classmethod
    def create(
        cls,
        principal: Principal,
        keyring: Keyring,
        plans: FieldPlans,
        safeguards: Safeguards = DEFAULT_SAFEGUARDS,
        idempotency_key: str | None = None,
    ) -> RequestContext:
        audit = AuditBuffer(principal, safeguards.export_budget[principal.role])
        access = Access(principal, plans, keyring, audit, AuditedWrites())
        return cls(
            principal=principal,
            phi=PhiSession(principal, access.opener, audit),
            access=access,
            safeguards=safeguards,
            idempotency_key=idempotency_key,
        )
