"""A new row's INSERT with another data-modifying statement in front of it, sent as one
statement (PostgreSQL: `WITH audit AS (INSERT ...) INSERT INTO patient ...`).

A write's audit record goes into the database with the write's first new row, one round trip
instead of two (audit/writes.py). The row's part is tortoise's own INSERT for the model: the
statement its executor builds once per model and database (`insert_query`) with the columns it
binds (`regular_columns`), each converted by its field's `to_db_value`, so the row is stored
exactly as `Model.save` stores it. tests/test_inserts.py pins that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields.base import DatabaseDefault
from tortoise.models import Model


async def insert_after(
    connection: BaseDBAsyncClient,
    row: Model,
    statement: Callable[[int], str],
    values: Sequence[Any],
) -> None:
    """Insert `row` (new, its key generated) in the statement that `statement(n)` begins:
    a `WITH name AS (...) ` whose placeholders follow the row's `n` (`$n+1`...), bound to
    `values`. Both happen or neither does."""
    model = type(row)
    meta = model._meta
    executor = connection.executor_class(model=model, db=connection)
    columns = executor.regular_columns
    fields = meta.fields_map
    bound = [fields[name].to_db_value(getattr(row, name), row) for name in columns]
    if any(isinstance(value, DatabaseDefault) for value in bound):
        # tortoise leaves such a column out of a statement it builds per row; not ours.
        raise TypeError(f"{model.__name__}: a column left to its database default")
    returned = await connection.execute_insert(
        statement(len(bound)) + executor.insert_query, [*bound, *values]
    )
    # As tortoise's executor does: the generated columns back into the row, which is now saved
    # (a later `save()` updates it).
    reverse = meta.fields_db_projection_reverse
    for column, value in dict(returned or {}).items():
        name = reverse[column]
        setattr(row, name, fields[name].to_python_value(value))
    row._saved_in_db = True
