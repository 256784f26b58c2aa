"""One request's guard session: the fields the object pass denied, and the sealed values it
set aside, dealt with after execution while the audit records are written.

Values are opened here and only here, with the opener the request's `Access` handed over, and
only those the object pass decided to ALLOW, MASK or DEIDENTIFY (schema/object_pass.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from graphql import FieldNode, GraphQLError
from graphql.pyutils import Path

from audit.buffer import AuditBuffer
from crypto.errors import CryptoError
from crypto.sealed import Sealed
from permissions.principal import Principal
from schema.errors import Forbidden, PhigateError, PhiUnavailable

Denials = tuple[tuple[str | int, list[FieldNode]], ...]
"""The fields denied on one object: (response key, the field's nodes) each."""
Transform = Callable[[str], str | None]
Serialize = Callable[[Any], Any]
Opened = tuple[tuple[str, str, Transform | None, Serialize], ...]
"""The fields to open: (response key, sealed column, transform or None for the full value,
serializer) each."""
Opening = tuple[Opened, Any]
"""The fields to open on one object, and the row that holds their sealed values."""


class Located(Protocol):
    """Where a selection's PHI fields are in the query text (schema.object_pass.ObjectPlan)."""

    def nodes(self, key: str) -> list[FieldNode]: ...


class PhiSession:
    """What the object pass needs for one request: who asks, the audit buffer, the fields
    denied so far, and the sealed values set aside (both are dealt with after execution,
    while the audit records are written)."""

    def __init__(
        self,
        principal: Principal,
        opener: Callable[[], Callable[[Sealed], str]],
        audit: AuditBuffer,
    ) -> None:
        self.principal = principal
        self.audit = audit
        self._opener = opener
        self.denied: list[tuple[Denials, Path | None]] = []
        """(the fields denied on one object, the object's path): their errors are built after
        execution, while the audit records are written."""
        self._sealed: list[tuple[dict[str, Any], Path, Located, Opening]] = []
        self._prefixes: dict[int, tuple[Path, str]] = {}

    def seal_later(
        self, result: dict[str, Any], path: Path, plan: Located, opening: Opening
    ) -> None:
        """`result` (an object's part of the response) gets these values once opened."""
        if opening[0]:
            self._sealed.append((result, path, plan, opening))

    def open_sealed(self) -> list[GraphQLError]:
        """Open every value the object pass set aside, in place in the response. A value that
        will not open stays null, with a PHI_UNAVAILABLE error at its path."""
        if not self._sealed:
            return []
        open_value = self._opener()
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
