"""The `@phi` guard: decide, then open, mask, de-identify or deny, and record every access.

Resolvers hand the guard a row holding `Sealed` values; only here is a keyring used to open
one, and only after an ALLOW, MASK or DEIDENTIFY decision. Every outcome, DENY included, is an
audit record.

Cost matters: a response may hold thousands of PHI fields. `PhiGuard` is the strawberry field
extension that `@phi` attaches; `build_schema` then installs its `reveal` as the graphql-core
resolver of that field, so a PHI field costs one function call (a dict lookup for the decision,
one AES-GCM open, one tuple appended) instead of strawberry's generic resolver chain. A denied
field returns null and its FORBIDDEN error is built once execution is over, not raised.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.pyutils import Path
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from audit.buffer import AuditBuffer
from crypto.errors import CryptoError
from crypto.keyring import Keyring
from permissions.plan import FieldPlan
from permissions.principal import Principal
from permissions.roles import Decision
from schema.errors import Forbidden, PhiUnavailable


class PhiSession:
    """What the guard needs for one request: who asks, the keyring, the audit buffer, and
    the fields denied so far (their errors are added to the result after execution)."""

    def __init__(self, principal: Principal, keyring: Keyring, audit: AuditBuffer) -> None:
        self.principal = principal
        self.keyring = keyring
        self.audit = audit
        self.denied: list[tuple[GraphQLResolveInfo[Any], Path]] = []
        # id(parent path) -> (parent path, its text). Holding the path keeps its id unique.
        self._prefixes: dict[int, tuple[Path | None, str]] = {}

    def prefix_of(self, path: Path) -> str:
        """`patients.edges.3.node` for `patients.edges.3.node.ssn`, once per object."""
        parent = path.prev
        cached = self._prefixes.get(id(parent))
        if cached is None or cached[0] is not parent:
            text = ".".join(str(part) for part in parent.as_list()) if parent else ""
            cached = self._prefixes[id(parent)] = (parent, text)
        return cached[1]

    def release(self) -> None:
        """Drop what the request held for its audit paths and denials once they are used: the
        request's objects reference each other in cycles, and what only they hold would wait
        for the cyclic collector (thousands of paths per page), slowing the next requests."""
        self._prefixes.clear()
        self.denied.clear()

    def denied_errors(self) -> list[GraphQLError]:
        # A field denied on every row of a page is located once (graphql-core would scan the
        # query text again for each error); the other denials copy that error with their path.
        located: dict[int, GraphQLError] = {}
        errors: list[GraphQLError] = []
        for info, path in self.denied:
            first = located.get(id(info.field_nodes[0]))
            if first is None:
                first = located[id(info.field_nodes[0])] = GraphQLError(
                    Forbidden.default_message,
                    nodes=info.field_nodes,
                    path=path.as_list(),
                    original_error=Forbidden(),
                    extensions={"code": Forbidden.code},
                )
                errors.append(first)
            else:
                errors.append(_Denial(first, path.as_list()))
        return errors


class _Denial(GraphQLError):
    """Another denial of a field already located: that error's message, location and cause,
    its own path. Built without graphql-core's per-error location and traceback work."""

    def __init__(self, located: GraphQLError, path: list[str | int]) -> None:
        Exception.__init__(self, located.message)
        self.message = located.message
        self.path = path
        self.nodes, self.source = located.nodes, located.source
        self.positions, self.locations = located.positions, located.locations
        self.original_error, self.cause = located.original_error, located.cause
        self.extensions = dict(located.extensions or {})


class PhiGuard(FieldExtension):
    """Attached to a field by `phi()`; `plan` was compiled when the field was declared."""

    def __init__(self, plan: FieldPlan, column: str) -> None:
        self.plan = plan
        self.column = column
        self.label: str | None = None
        """`Type.field` for the audit trail; set when installed, derived per call otherwise."""

    def resolve(self, next_: Any, source: Any, info: Info[Any, Any], **kwargs: Any) -> Any:
        # Strawberry's own path, for a schema built without `build_schema`'s installation.
        return self.reveal(source, info._raw_info)

    def reveal(self, source: Any, info: GraphQLResolveInfo[Any]) -> str | None:
        session: PhiSession = info.context.phi
        subject = source.subject
        plan = self.plan
        decision = plan.decide(session.principal, subject)
        path = info.path
        label = self.label or f"{info.parent_type.name}.{info.field_name}"
        session.audit.phi_access(
            subject.patient_id,
            label,
            session.prefix_of(path),
            str(path.key),
            decision,
            subject.purpose,
        )
        if decision is Decision.DENY:
            session.denied.append((info, path))
            return None
        sealed = getattr(source.row, self.column)
        if sealed is None:
            return None
        try:
            plaintext = session.keyring.open(sealed)
        except CryptoError:
            raise PhiUnavailable() from None
        return plan.apply(decision, plaintext)
