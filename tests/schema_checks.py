"""The indexes the models declare, against those a migrated database holds."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

Key = tuple[str, tuple[str, ...]]
"""A table and an index's columns, in order."""

_POSTGRES = """
SELECT t.relname AS tbl, ix.indisunique AS uniq,
       array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o) AS cols
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace ns ON ns.oid = t.relnamespace
WHERE ns.nspname = current_schema()
"""
# One row per index column; a table's indexes are listed even when it has only autoindexes.
_SQLITE = """
SELECT m.name AS tbl, l.name AS idx, l."unique" AS uniq, i.seqno AS seqno, i.name AS col
FROM sqlite_master m, pragma_index_list(m.name) l, pragma_index_info(l.name) i
WHERE m.type = 'table'
"""


def _column(model: type[Model], name: str) -> str:
    field: Any = model._meta.fields_map[name]
    return str(field.source_field or name)


def declared(model: type[Model]) -> dict[Key, bool]:
    """The model's indexes (Meta.indexes, Meta.unique_together, unique and indexed fields),
    each with whether it must be unique."""
    meta, table = model._meta, model._meta.db_table
    wanted: dict[Key, bool] = {}
    for index in meta.indexes:
        names = getattr(index, "fields", index)
        wanted.setdefault((table, tuple(_column(model, n) for n in names)), False)
    for names in meta.unique_together:
        wanted[(table, tuple(_column(model, n) for n in names))] = True
    stored = meta.fields_db_projection.keys() | meta.fk_fields | meta.o2o_fields
    for name, field in meta.fields_map.items():
        if field.pk or name not in stored:
            continue
        key = (table, (_column(model, name),))
        if field.unique:
            wanted[key] = True
        elif field.index:
            wanted.setdefault(key, False)
    return wanted


async def present(connection: BaseDBAsyncClient) -> dict[Key, bool]:
    """Every index in the database, with whether it is unique."""
    found: dict[Key, bool] = {}
    if connection.capabilities.dialect == "postgres":
        for row in await connection.execute_query_dict(_POSTGRES):
            key = (row["tbl"], tuple(row["cols"]))
            found[key] = found.get(key, False) or bool(row["uniq"])
        return found
    columns: dict[tuple[str, str, bool], list[tuple[int, str]]] = {}
    for row in await connection.execute_query_dict(_SQLITE):
        columns.setdefault((row["tbl"], row["idx"], bool(row["uniq"])), []).append(
            (row["seqno"], row["col"])
        )
    for (table, _, unique), cols in columns.items():
        key = (table, tuple(col for _, col in sorted(cols)))
        found[key] = found.get(key, False) or unique
    return found


async def missing_indexes(connection: BaseDBAsyncClient) -> list[str]:
    """Indexes a model declares that the database lacks (or holds without uniqueness)."""
    found = await present(connection)
    missing = []
    for app in Tortoise.apps.values():
        for model in app.values():
            for (table, cols), unique in declared(model).items():
                if (table, cols) not in found or (unique and not found[(table, cols)]):
                    kind = "unique index" if unique else "index"
                    missing.append(f"{kind} {table} ({', '.join(cols)})")
    return sorted(missing)
