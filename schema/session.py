"""The `@phi` guard: decide, then open, mask, de-identify or deny, and record every access.

Resolvers hand the guard a row holding `Sealed` values; only here is a keyring used to open
one, and only after an ALLOW, MASK or DEIDENTIFY decision. Every outcome, DENY included, is an
audit record.

`phi()` attaches a `PhiGuard` to each PHI field as a strawberry field extension, so any schema
that declares the field enforces it, one field at a time (`PhiGuard.read`). A schema from
`build_schema` goes further: its execution context hands each object's selected PHI fields to
`schema.object_pass`, which decides and records them in one loop (DESIGN.md section 2) and
sets their sealed values aside; `PhiSession.open_sealed` opens those in place in the response
while the audit records are written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from graphql import FieldNode, GraphQLError, GraphQLResolveInfo
from graphql.pyutils import Path
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from audit.buffer import AuditBuffer, entry
from crypto.errors import CryptoError
from crypto.keyring import Keyring
from permissions.plan import FieldPlan
from permissions.principal import Principal
from permissions.roles import Decision
from schema.errors import Forbidden, PhigateError, PhiUnavailable

if TYPE_CHECKING:
    from schema.object_pass import ObjectPlan, Opening

Denials = tuple[tuple[str | int, list[FieldNode]], ...]
"""The fields denied on one object: (response key, the field's nodes) each."""


class PhiSession:
    """What the guard needs for one request: who asks, the keyring, the audit buffer, the
    fields denied so far, and the sealed values the object pass set aside (both are dealt
    with after execution, while the audit records are written)."""

    def __init__(self, principal: Principal, keyring: Keyring, audit: AuditBuffer) -> None:
        self.principal = principal
        self.keyring = keyring
        self.audit = audit
        self.denied: list[tuple[Denials, Path | None]] = []
        """(the fields denied on one object, the object's path): their errors are built after
        execution, while the audit records are written."""
        self._sealed: list[tuple[dict[str, Any], Path, ObjectPlan, Opening]] = []
        self._prefixes: dict[int, tuple[Path, str]] = {}

    def seal_later(
        self, result: dict[str, Any], path: Path, plan: ObjectPlan, opening: Opening
    ) -> None:
        """`result` (an object's part of the response) gets these values once opened."""
        if opening[0]:
            self._sealed.append((result, path, plan, opening))

    def open_sealed(self) -> list[GraphQLError]:
        """Open every value the object pass set aside, in place in the response. A value that
        will not open stays null, with a PHI_UNAVAILABLE error at its path."""
        if not self._sealed:
            return []
        open_value = self.keyring.open
        unavailable = []
        for result, path, plan, (opened, row) in self._sealed:
            for key, column, transform, serialize in opened:
                value = getattr(row, column)
                if value is None:
                    continue
                try:
                    plaintext = open_value(value)
                except CryptoError:
                    where = [*path.as_list(), key]
                    unavailable.append(_at_field(PhiUnavailable(), plan.nodes(key), where))
                    continue
                shown = plaintext if transform is None else transform(plaintext)
                if shown is not None:
                    result[key] = serialize(shown)
        return unavailable

    def prefix(self, path: Path | None) -> str:
        """The audit path of the object at `path` (`p0.edges.3.node`). Each path's text is
        built once from its parent's, so the objects of a page share their common part (each
        path is held with its text, so its id stays unique while cached)."""
        if path is None:
            return ""
        cached = self._prefixes.get(id(path))
        if cached is not None:
            return cached[1]
        parent = path.prev
        text = str(path.key) if parent is None else f"{self.prefix(parent)}.{path.key}"
        self._prefixes[id(path)] = (path, text)
        return text

    def denied_errors(self) -> list[GraphQLError]:
        # A field denied on every row of a page is located once (graphql-core would scan the
        # query text again for each error); the other denials copy that error with their path.
        located: dict[int, GraphQLError] = {}
        errors: list[GraphQLError] = []
        for denials, path in self.denied:
            where = [] if path is None else path.as_list()
            for key, nodes in denials:
                first = located.get(id(nodes[0]))
                if first is None:
                    first = located[id(nodes[0])] = _at_field(Forbidden(), nodes, [*where, key])
                    errors.append(first)
                else:
                    errors.append(_Denial(first, [*where, key]))
        return errors


def _at_field(error: PhigateError, nodes: list[FieldNode], path: list[str | int]) -> GraphQLError:
    """`error` located at one field of the response, as graphql-core would report it."""
    return GraphQLError(
        str(error), nodes=nodes, path=path, original_error=error, extensions=error.extensions
    )


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
        return self.read(source, info._raw_info)

    def read(self, source: Any, info: GraphQLResolveInfo[Any]) -> str | None:
        """One field: decide, record, then open (a value that will not open is still on
        record, as an access that failed)."""
        session: PhiSession = info.context.phi
        subject = source.subject
        decision = self.plan.decide(session.principal, subject)
        path = info.path
        session.audit.entries(
            subject.patient_id, session.prefix(path.prev), decision, subject.purpose
        ).append(entry(f"{info.parent_type.name}.{info.field_name}", str(path.key)))
        if decision is Decision.DENY:
            session.denied.append((((path.key, info.field_nodes),), path.prev))
            return None
        sealed = getattr(source.row, self.column)
        if sealed is None:
            return None
        try:
            plaintext = session.keyring.open(sealed)
        except CryptoError:
            raise PhiUnavailable() from None
        return self.plan.apply(decision, plaintext)
