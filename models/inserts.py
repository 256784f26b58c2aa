"""A new row's INSERT sent with another data-modifying statement, in one trip.

A write's audit record goes into the database with the write's first new row (audit/writes.py):
on PostgreSQL as one statement (`WITH audit AS (INSERT ...) INSERT INTO patient ...`), on SQLite
as two statements run together in aiosqlite's thread (models/sqlite_thread.py). The row's part
is tortoise's own INSERT for the model: the statement its executor builds once per model and
database (`insert_query`) with the columns it binds (`regular_columns`), each converted by its
field's `to_db_value`, so the row is stored exactly as `Model.save` stores it.
tests/test_inserts.py pins that.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.fields.base import DatabaseDefault
from tortoise.models import Model

from models.sqlite_thread import in_thread


def _bound(connection: BaseDBAsyncClient, row: Model) -> tuple[str, list[Any]]:
    """The model's INSERT and the row's values for it."""
    model = type(row)
    executor = connection.executor_class(model=model, db=connection)
    fields = model._meta.fields_map
    bound = [fields[name].to_db_value(getattr(row, name), row) for name in executor.regular_columns]
    if any(isinstance(value, DatabaseDefault) for value in bound):
        # tortoise leaves such a column out of a statement it builds per row; not ours.
        raise TypeError(f"{model.__name__}: a column left to its database default")
    return executor.insert_query, bound


def _saved(row: Model, generated: Mapping[str, Any]) -> None:
    """As tortoise's executor does: the generated columns back into the row, which is now
    saved (a later `save()` updates it)."""
    meta = row._meta
    for column, value in generated.items():
        name = meta.fields_db_projection_reverse[column]
        setattr(row, name, meta.fields_map[name].to_python_value(value))
    row._saved_in_db = True


async def insert_after(
    connection: BaseDBAsyncClient,
    row: Model,
    statement: Callable[[int], str],
    values: Sequence[Any],
) -> None:
    """PostgreSQL: insert `row` (new, its key generated) in the statement that `statement(n)`
    begins, a `WITH name AS (...) ` whose placeholders follow the row's `n` (`$n+1`...),
    bound to `values`. Both happen or neither does."""
    insert, bound = _bound(connection, row)
    returned = await connection.execute_insert(statement(len(bound)) + insert, [*bound, *values])
    _saved(row, dict(returned or {}))


async def insert_after_sqlite(
    connection: BaseDBAsyncClient, row: Model, statement: str, values: Sequence[Any]
) -> None:
    """SQLite: run `statement` with `values`, then insert `row`, in one trip. Inside the
    caller's transaction: a failure of either leaves it to roll both back."""
    insert, bound = _bound(connection, row)
    try:
        key = await in_thread(connection, _both, statement, values, insert, bound)
    except sqlite3.IntegrityError as exc:
        # As tortoise reports it for its own statements (a unique MRN, a revised version).
        raise IntegrityError(exc) from exc
    _saved(row, {row._meta.db_pk_column: key})


def _both(
    db: sqlite3.Connection, statement: str, values: Sequence[Any], insert: str, bound: list[Any]
) -> int | None:
    db.execute(statement, values)
    return db.execute(insert, bound).lastrowid
