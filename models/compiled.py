"""Query shapes compiled to SQL once, then run with fresh values.

Every request runs the same few lookups (its session, the patient it asks for) with different
values, and building and compiling a Tortoise query costs more CPU than running it. A shape is
built twice from two sets of stand-in values and compiled: the parameters that follow the
stand-ins become slots for the real values, and the rest must be identical plain constants (a
`LIMIT`). Anything else that differs between the two builds (a timestamp taken while building,
a list whose length depends on data) means the shape is not a pure function of its values, and
it is never compiled: such a query runs through the ORM as usual, every time.

`build` must not read the database or the clock to decide the query's shape; the two-build
check catches a timestamp, not a query result, so a builder that awaits anything is not allowed
(its signature is synchronous for that reason).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.queryset import QuerySet

M = TypeVar("M", bound=Model)
Build = Callable[[Mapping[str, Any]], QuerySet[M]]

_CONSTANT_TYPES = (int, bool, type(None))


@dataclass(frozen=True, slots=True)
class _Shape:
    sql: str
    params: tuple[tuple[str | None, Any], ...]
    """Per placeholder: the slot whose value goes there, or None and the constant."""
    select_related: tuple[Any, ...]

    def values(self, values: Mapping[str, Any]) -> list[Any]:
        return [values[slot] if slot is not None else constant for slot, constant in self.params]


def _stand_ins(values: Mapping[str, Any], variant: int) -> dict[str, Any]:
    """Values of the same types as `values`, distinct per slot and per variant."""
    out: dict[str, Any] = {}
    for index, (name, value) in enumerate(values.items()):
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TypeError(f"slot {name}: only int and str values can be compiled")
        mark = -(1_000_000 + 100 * index + variant)
        # Strings of different lengths per variant: a shape that follows a value's length shows.
        out[name] = mark if isinstance(value, int) else f"~{-mark}" + "~" * variant
    return out


def _compiled(queryset: QuerySet[Any]) -> tuple[str, list[Any], list[Any]]:
    queryset._choose_db_if_not_chosen()
    queryset._make_query()
    sql, params = queryset.query.get_parameterized_sql()
    return sql, list(params), list(queryset._select_related_idx)


def _compile(build: Build[Any], values: Mapping[str, Any]) -> _Shape | None:
    first, second = _stand_ins(values, 1), _stand_ins(values, 2)
    sql_1, params_1, related = _compiled(build(first))
    sql_2, params_2, _ = _compiled(build(second))
    if sql_1 != sql_2 or len(params_1) != len(params_2):
        return None
    slot_of = {value: name for name, value in first.items()}
    params: list[tuple[str | None, Any]] = []
    for one, two in zip(params_1, params_2, strict=True):
        slot = slot_of.get(one)
        if slot is not None and second[slot] == two:
            params.append((slot, None))
        elif one == two and type(one) is type(two) and isinstance(one, _CONSTANT_TYPES):
            params.append((None, one))
        else:
            return None
    return _Shape(sql_1, tuple(params), tuple(related))


class CompiledQueries(Generic[M]):
    """The shapes of one model's hot lookups, keyed by the caller, per database dialect."""

    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._shapes: dict[tuple[str, Hashable], _Shape | None] = {}

    async def select(self, name: Hashable, build: Build[M], /, **values: Any) -> list[M]:
        """Rows of shape `name` (built by `build` from `values`) for these values."""
        db: BaseDBAsyncClient = self.model._meta.db
        cache_key = (db.capabilities.dialect, name)
        if cache_key not in self._shapes:
            self._shapes[cache_key] = _compile(build, values)
        shape = self._shapes[cache_key]
        if shape is None:
            return await build(values)
        executor = db.executor_class(
            model=self.model,
            db=db,
            prefetch_map={},
            prefetch_queries={},
            select_related_idx=list(shape.select_related),
        )
        rows: list[M] = await executor.execute_select(shape.sql, shape.values(values))
        return rows
