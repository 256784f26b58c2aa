"""The `@phi` guard: decide, then open, mask, de-identify or deny, and record every access.

Resolvers hand the guard a `Sealed` value; only here is a keyring used to open one, and only
after an ALLOW, MASK or DEIDENTIFY decision. Every outcome, DENY included, is an audit record.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info

from audit.buffer import AuditBuffer
from crypto.errors import CryptoError
from crypto.keyring import Keyring
from crypto.sealed import Sealed
from permissions.plan import FieldPlan
from permissions.principal import Principal
from permissions.roles import Decision
from permissions.rows import Subject
from schema.errors import Forbidden, PhiUnavailable


class PhiSession:
    """What the guard needs for one request: who asks, the keyring, and the audit buffer."""

    def __init__(self, principal: Principal, keyring: Keyring, audit: AuditBuffer) -> None:
        self.principal = principal
        self.keyring = keyring
        self.audit = audit

    def reveal(
        self, plan: FieldPlan, subject: Subject, sealed: Sealed | None, field: str, path: str
    ) -> str | None:
        decision = plan.decide(self.principal, subject)
        self.audit.phi_access(subject.patient_id, field, path, decision)
        if decision is Decision.DENY:
            raise Forbidden()
        if sealed is None:
            return None
        try:
            plaintext = self.keyring.open(sealed)
        except CryptoError:
            raise PhiUnavailable() from None
        return plan.apply(decision, plaintext)


class PhiGuard(FieldExtension):
    """Field extension attached by `phi()`; `plan` is compiled when the field is declared."""

    def __init__(self, plan: FieldPlan, column: str) -> None:
        self.plan = plan
        self.column = column

    def resolve(self, next_: Any, source: Any, info: Info[Any, Any], **kwargs: Any) -> Any:
        session: PhiSession = info.context.phi
        sealed = next_(source, info, **kwargs)
        return session.reveal(
            self.plan,
            source.subject,
            sealed,
            f"{info.path.typename}.{info.field_name}",
            ".".join(str(key) for key in info.path.as_list()),
        )
