"""What the guard relies on is refused when a schema is built, not on its first query.

The types below break one invariant each (module level: strawberry resolves annotations there).
"""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.extensions import FieldExtension

from permissions.decisions import FieldPlan
from permissions.roles import Category
from schema.build import build_schema
from schema.guard import PHI_GUARD, PhiGuard, outside_the_object_pass
from schema.invariants import SchemaInvariantError, check, rows
from schema.inventory import phi_fields


class _Passthrough(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs)


def _guarded(**options: Any) -> Any:
    guard = PhiGuard(FieldPlan.compile(Category.SSN), "ssn")
    return strawberry.field(metadata={PHI_GUARD: guard}, **options)


def _ssn_part(root: Any, last: int) -> str | None:
    return None


@strawberry.type
class NonNull:
    ssn: str = _guarded(resolver=outside_the_object_pass)


@strawberry.type
class ListOf:
    aliases: list[str] | None = _guarded(resolver=outside_the_object_pass)


@strawberry.type
class WithArguments:
    ssn_part: str | None = _guarded(resolver=_ssn_part)


@strawberry.type
class WithExtension:
    ssn: str | None = _guarded(resolver=outside_the_object_pass, extensions=[_Passthrough()])


@strawberry.type
class Record:
    ssn: str | None = _guarded(resolver=outside_the_object_pass)


@strawberry.type
class Wrapper:
    record: Record


@strawberry.interface
class Thing:
    id: strawberry.ID


@strawberry.type
class Held(Thing):
    ssn: str | None = _guarded(resolver=outside_the_object_pass)


def _checked(root: type, *types: type) -> None:
    schema = strawberry.Schema(query=root, types=types)
    check(schema, phi_fields(schema))


@strawberry.type
class NonNullQuery:
    record: NonNull | None = strawberry.field(default=None, metadata=rows("test"))


@strawberry.type
class ListQuery:
    record: ListOf | None = strawberry.field(default=None, metadata=rows("test"))


@strawberry.type
class ArgumentsQuery:
    record: WithArguments | None = strawberry.field(default=None, metadata=rows("test"))


@strawberry.type
class ExtensionQuery:
    record: WithExtension | None = strawberry.field(default=None, metadata=rows("test"))


@strawberry.type
class UnguardedQuery:
    guarded: Wrapper | None = strawberry.field(default=None, metadata=rows("test"))
    unguarded: Wrapper | None = None


@strawberry.type
class GuardedQuery:
    guarded: Wrapper | None = strawberry.field(default=None, metadata=rows("test"))


@strawberry.type
class InterfaceQuery:
    thing: Thing | None = None


def test_the_served_schema_holds_every_invariant() -> None:
    schema = build_schema()
    check(schema, phi_fields(schema))
    _checked(GuardedQuery)


@pytest.mark.parametrize(
    ("root", "refusal"),
    [
        (NonNullQuery, r"NonNull\.ssn must be a nullable scalar"),
        (ListQuery, r"ListOf\.aliases must be a nullable scalar"),
        (ArgumentsQuery, r"WithArguments\.ssnPart must take no arguments"),
        (ExtensionQuery, r"WithExtension\.ssn must carry no field extension"),
        (UnguardedQuery, r"Query\.unguarded reaches Wrapper|Wrapper\.record reaches Record"),
    ],
)
def test_a_schema_the_guard_cannot_enforce_is_refused(root: type, refusal: str) -> None:
    with pytest.raises(SchemaInvariantError, match=refusal):
        _checked(root)


def test_a_phi_type_behind_an_interface_counts_too() -> None:
    with pytest.raises(SchemaInvariantError, match=r"InterfaceQuery\.thing reaches Held"):
        _checked(InterfaceQuery, Held)
