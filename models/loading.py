"""Model instances from database rows, the hot path of every page, and new instances, one
per write.

Tortoise's `Model._init_from_db` sets a row's columns one call at a time; a page of 200
patients and their children is a thousand rows, and each sealed column must then be wrapped
again as a `Sealed` bound to its row. A `RowLoader`, made once per model, copies a whole row
into the instance in one `dict.update` and converts only the columns that need it: typed
columns, timestamps, and sealed columns, bound as they are copied. Half the time per patient
row (bench/README.md).

A row that lacks some of the model's columns (a `.only()` query) is left to tortoise.

Which columns need converting depends on the database driver, and tortoise works it out again
(new lists of new entries) each time it is initialised: a loader knows the entries it was made
from, and one made for another initialisation is made again (tests switch databases).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from tortoise.models import Model

from crypto.sealed import Sealed

M = TypeVar("M", bound=Model)


class RowLoader(Generic[M]):
    def __init__(self, model: type[M], sealed: Mapping[str, str]) -> None:
        """`sealed` maps each sealed attribute to its binding prefix (`table.column|`): a
        row's binding is that prefix and the row's public id."""
        meta = model._meta
        columns = (*meta.db_native_fields, *meta.db_default_fields, *meta.db_complex_fields)
        self._model = model
        self._made_from = meta.db_native_fields[0] if meta.db_native_fields else None
        self._columns = frozenset(key for key, _, _ in columns)
        self._renamed = tuple((key, attr) for key, attr, _ in columns if key != attr)
        self._converted: tuple[tuple[str, str, Callable[[Any], Any]], ...] = tuple(
            (key, attr, field.field_type) for key, attr, field in meta.db_default_fields
        )
        self._complex: tuple[tuple[str, str, Callable[[Any], Any]], ...] = tuple(
            (key, attr, field.to_python_value) for key, attr, field in meta.db_complex_fields
        )
        self._sealed = tuple(sealed.items())
        self._state = {
            "_partial": False,
            "_saved_in_db": True,
            "_custom_generated_pk": meta.db_pk_column not in meta.generated_db_fields,
        }

    def current(self) -> bool:
        """Whether tortoise's conversions are still those this loader was made from."""
        native = self._model._meta.db_native_fields
        return (native[0] if native else None) is self._made_from

    def load(self, columns: dict[str, Any]) -> M | None:
        """The row as an instance, or None when it lacks some of the model's columns."""
        if not self._columns <= columns.keys():
            return None
        row = self._model.__new__(self._model)
        values = row.__dict__
        values.update(columns)
        values.update(self._state)
        values["_await_when_save"] = {}
        for key, attr in self._renamed:
            values[attr] = values.pop(key)
        for key, attr, convert in self._converted:
            value = columns[key]
            values[attr] = None if value is None else convert(value)
        for key, attr, convert in self._complex:
            values[attr] = convert(columns[key])
        self.seal(values)
        return row

    def seal(self, values: dict[str, Any]) -> None:
        """Wrap the sealed columns among `values` (an instance's attributes) as `Sealed`."""
        public_id = values["public_id"]
        # `Sealed(blob, binding)` without the named tuple's Python-level `__new__`: every PHI
        # value of a page passes here.
        new = tuple.__new__
        for attr, prefix in self._sealed:
            blob = values.get(attr)
            if blob is not None:
                values[attr] = new(Sealed, (blob, prefix + public_id))


_IMMUTABLE = (int, float, str, bool, bytes)


class NewRows(Generic[M]):
    """New instances, as tortoise's `Model.__init__` makes them from plain column values, in one
    `dict.update`: its way checks every field's default (`inspect.iscoroutinefunction`) and
    sets each through `Model.__setattr__`, half the Python time of building a patient for a
    registration (docs/performance.md). Anything else (a related object, the key, a field
    whose default is a coroutine or a mutable value) is left to tortoise: `fill` says False.
    tests/test_row_loading.py pins that both make the same instance."""

    def __init__(self, model: type[M]) -> None:
        meta = model._meta
        constants: dict[str, Any] = {"_partial": False, "_saved_in_db": False}
        made: list[tuple[str, Callable[[], Any]]] = []
        usable = True
        for key in meta.fields.difference(meta.fetch_fields):
            field = meta.fields_map[key]
            default = field.default
            if inspect.iscoroutinefunction(default) or not (
                default is None or callable(default) or isinstance(default, _IMMUTABLE)
            ):
                usable = False
            elif callable(default):
                made.append((key, default))
            elif default is not None:
                constants[key] = default
            else:
                constants[key] = field.get_db_default_value() if field.has_db_default() else None
        self._usable = usable
        self._constants = constants
        self._made = tuple(made)
        self._convert = {
            key: meta.fields_map[key].to_python_value
            for key in meta.fields_db_projection
            if key != meta.pk_attr
        }
        self._nullable = frozenset(k for k in self._convert if meta.fields_map[k].null)

    def fill(self, row: M, values: Mapping[str, Any]) -> bool:
        """Make `row` (just allocated) the new instance `values` describe, or say False."""
        convert = self._convert
        if not self._usable or not values.keys() <= convert.keys():
            return False
        state = row.__dict__
        state.update(self._constants)
        state["_custom_generated_pk"] = False
        state["_await_when_save"] = {}
        for key, make in self._made:
            if key not in values:
                state[key] = make()
        for key, value in values.items():
            if value is None and key not in self._nullable:
                return False  # tortoise's error, from tortoise
            state[key] = convert[key](value)
        return True
