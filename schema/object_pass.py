"""The guard's pass over one object: every selected PHI field decided and recorded in one loop,
its sealed value set aside to be opened after execution (DESIGN.md section 2).

graphql-core collects an object's selection once per list of objects, so what depends only on
the selection and the caller is an `ObjectPlan`, built once per request and selection: which
fields are PHI, and, per kind of subject (plain, narrowed to some categories, in a report), a
`Decided`: the fields to open with their transform, the fields denied, and the audit entries
per decision. Per object there remain one audit list extended per decision and one entry
setting the object aside, with its row and the selection's fields to open; per field, none of
graphql-core's generic field machinery, which the object's non-PHI fields still go through.

The values are opened after execution, in place in the result, while the audit records are
being written (`PhiSession.open_sealed`, `schema/audit_flush.py`): the database stores the
records as the CPU decrypts, and the response still leaves only once both are done. A record
lists what the caller was given or refused, and a value that will not open was still asked for
and allowed, so opening later changes nothing on record.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLObjectType
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path

from audit.buffer import entry
from permissions.principal import Principal
from permissions.roles import Category, Decision
from permissions.rows import Subject
from schema.guard import PhiGuard
from schema.session import Denials, Opened, Opening, PhiSession, Serialize

PHI_GUARDS = "phigate.phi_guards"
"""Key, in a GraphQL object type's `extensions`, of its PHI fields' guards by field name."""


@dataclass(frozen=True, slots=True)
class _Selected:
    """One PHI field as asked for in one selection."""

    key: str
    """The response key: the field's name or the alias it was asked under."""
    guard: PhiGuard
    entry: str
    details: FieldDetailsList
    serialize: Serialize


@dataclass(frozen=True, slots=True)
class Decided:
    """What one caller may do with one selection on one kind of subject."""

    opened: Opened
    denied: Denials
    entries: tuple[tuple[Decision, tuple[str, ...]], ...]
    """The audit entries of every selected field, by decision."""


class ObjectPlan:
    """The PHI fields of one selection on one object type, and the other fields, which
    graphql-core executes as usual."""

    __slots__ = (
        "_decided", "_phi_last", "_selected", "keys", "others", "phi_keys", "principal",
    )  # fmt: skip

    def __init__(
        self,
        parent_type: GraphQLObjectType,
        grouped_field_set: GroupedFieldSet,
        guards: Mapping[str, PhiGuard],
        principal: Principal,
    ) -> None:
        selected = []
        others: GroupedFieldSet = {}
        for key, details in grouped_field_set.items():
            name = details[0].node.name.value
            guard = guards.get(name)
            if guard is None:
                others[key] = details
                continue
            selected.append(
                _Selected(
                    key=key,
                    guard=guard,
                    entry=entry(f"{parent_type.name}.{name}", key),
                    details=details,
                    serialize=parent_type.fields[name].type.serialize,
                )
            )
        self.principal = principal
        self.keys = tuple(grouped_field_set)
        self.phi_keys = tuple(field.key for field in selected)
        self.others = others
        self._phi_last = self.keys == (*others, *self.phi_keys)
        """Every PHI field asked for after every other field (`{ id kind startDate }`)."""
        self._selected = tuple(selected)
        self._decided: dict[tuple[bool, frozenset[Category] | None], Decided] = {}

    def _decide(self, subject: Subject) -> Decided:
        opened = []
        denied = []
        entries: dict[Decision, list[str]] = {}
        for field in self._selected:
            plan = field.guard.plan
            decision = plan.decide(self.principal, subject)
            entries.setdefault(decision, []).append(field.entry)
            if decision is Decision.DENY:
                denied.append((field.key, [d.node for d in field.details]))
            else:
                opened.append(
                    (field.key, field.guard.column, plan.transform(decision), field.serialize)
                )
        return Decided(
            tuple(opened), tuple(denied), tuple((d, tuple(e)) for d, e in entries.items())
        )

    def complete(
        self, session: PhiSession, source: Any, path: Path
    ) -> tuple[dict[str, Any], GroupedFieldSet, Opening]:
        """The object's PHI fields, null until opened, each recorded in the audit buffer; what
        is left for graphql-core (the non-PHI fields); and what to open once execution ends."""
        subject: Subject = source.subject
        kind = (subject.report is None, subject.categories)
        decided = self._decided.get(kind)
        if decided is None:
            decided = self._decided[kind] = self._decide(subject)
        prefix = session.prefix(path)
        for decision, entries in decided.entries:
            session.audit.entries(subject.patient_id, prefix, decision, subject.purpose).extend(
                entries
            )
        if decided.denied:
            session.denied.append((decided.denied, path))
        return dict.fromkeys(self.phi_keys), self.others, (decided.opened, source.row)

    def nodes(self, key: str) -> list[FieldNode]:
        """The nodes of the PHI field at response key `key` (for its error)."""
        return next([d.node for d in f.details] for f in self._selected if f.key == key)

    def merge(self, values: dict[str, Any], others: dict[str, Any]) -> dict[str, Any]:
        """Both parts of the object's result, in the order the fields were asked for."""
        if self._phi_last:
            others.update(values)
            return others
        return {key: values[key] if key in values else others[key] for key in self.keys}

    def merge_and_seal(
        self,
        values: dict[str, Any],
        others: dict[str, Any],
        session: PhiSession,
        path: Path,
        opening: Opening,
    ) -> dict[str, Any]:
        """`merge`, with the PHI values set to be opened in the merged result."""
        merged = self.merge(values, others)
        session.seal_later(merged, path, self, opening)
        return merged

    async def merge_later(
        self,
        values: dict[str, Any],
        others: Awaitable[dict[str, Any]],
        session: PhiSession,
        path: Path,
        opening: Opening,
    ) -> dict[str, Any]:
        return self.merge_and_seal(values, await others, session, path, opening)
