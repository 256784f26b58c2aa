"""The `@phi` guard: decide, then open, mask, de-identify or deny, and record every access.

Resolvers hand the guard a row holding `Sealed` values; only here is a keyring used to open
one, and only after an ALLOW, MASK or DEIDENTIFY decision. Every outcome, DENY included, is an
audit record.

Cost matters: a response may hold thousands of PHI fields. `PhiGuard` is the strawberry field
extension that `@phi` attaches; `build_schema` then installs its `read` as the graphql-core
resolver of that field, so a PHI field costs one function call instead of strawberry's generic
resolver chain. What is the same for every field of an object (its subject, its audit path,
its audit entry lists) is found once per object, in a `Reading`; per field there remain a dict
lookup for the decision, one AES-GCM open and one name appended to the audit entry. A denied
field returns null and its FORBIDDEN error is built once execution is over, not raised.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
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
from permissions.rows import Subject
from schema.errors import Forbidden, PhiUnavailable


class Reading:
    """The PHI fields read on one object of the response: its subject, its audit path, and
    the audit entry lists its fields go to, per decision (found once per object, not per
    field)."""

    __slots__ = ("_audit", "_lists", "path", "prefix", "subject")

    def __init__(self, path: Path | None, subject: Subject, audit: AuditBuffer) -> None:
        self.path = path
        """Held so that its id, the key this reading is found by, stays unique."""
        self.subject = subject
        self.prefix = ".".join(map(str, path.as_list())) if path else ""
        self._audit = audit
        self._lists: dict[Decision, list[str]] = {}

    def entries(self, decision: Decision) -> list[str]:
        listed = self._lists.get(decision)
        if listed is None:
            subject = self.subject
            listed = self._lists[decision] = self._audit.entries(
                subject.patient_id, self.prefix, decision, subject.purpose
            )
        return listed


class PhiSession:
    """What the guard needs for one request: who asks, the keyring, the audit buffer, and
    the fields denied so far (their errors are added to the result after execution)."""

    def __init__(self, principal: Principal, keyring: Keyring, audit: AuditBuffer) -> None:
        self.principal = principal
        self.keyring = keyring
        self.audit = audit
        self.denied: list[tuple[GraphQLResolveInfo[Any], Path]] = []
        self.readings: dict[int, Reading] = {}
        """id(object path) -> its reading."""

    def begin(self, path: Path | None, subject: Subject) -> Reading:
        """The reading of the object at `path`, on its first PHI field."""
        reading = self.readings[id(path)] = Reading(path, subject, self.audit)
        return reading

    def release(self) -> None:
        """Drop what the request held for its audit paths and denials once they are used: the
        request's objects reference each other in cycles, and what only they hold would wait
        for the cyclic collector (thousands of paths per page), slowing the next requests."""
        self.readings.clear()
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

    def resolve(self, next_: Any, source: Any, info: Info[Any, Any], **kwargs: Any) -> Any:
        # Strawberry's own path, for a schema built without `build_schema`'s installation.
        raw = info._raw_info
        return self.read(f"{raw.parent_type.name}.{raw.field_name}", raw.field_name, source, raw)

    def installed(self, label: str, name: str) -> Callable[[Any, GraphQLResolveInfo[Any]], Any]:
        """This guard as the graphql-core resolver of field `label` (`Type.field`)."""
        return partial(self.read, label, name)

    def read(self, label: str, name: str, source: Any, info: GraphQLResolveInfo[Any]) -> str | None:
        session: PhiSession = info.context.phi
        path = info.path
        reading = session.readings.get(id(path.prev)) or session.begin(path.prev, source.subject)
        decision = self.plan.decide(session.principal, reading.subject)
        key = path.key
        reading.entries(decision).append(label if key == name else f"{label}@{key}")
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
        return plaintext if decision is Decision.ALLOW else self.plan.apply(decision, plaintext)
